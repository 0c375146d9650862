//! The SAM template (`template.yaml`) as CloudFormation will see it.
//!
//! `scripts/sam_transform.py` runs aws-sam-translator (the library behind `sam` and the
//! AWS::Serverless transform) on the template for each parameter set below, settles the
//! conditions of that set (Fn::If, AWS::NoValue, conditional resources) and prints the
//! resulting CloudFormation as JSON. The tests assert on those resources: the IAM policies
//! each function really gets, encryption, the routes, the event source mapping, the alarms'
//! metrics (against the code's own metric list), and so on. The per-provider parts are
//! checked against the code's provider list (`Provider::ALL`, the same facts as
//! `scribehook providers`), and `scripts/template.py` must reproduce the template from that
//! list exactly. cfn-lint (with the serverless rules) must report nothing.
//!
//! Python: `$SCRIBEHOOK_PYTHON` (set by `make test`), else `.venv/bin/python` (what
//! `make setup` installs). Not finding aws-sam-translator fails the tests: a check that
//! silently did not run would pass every template.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use scribehook::telemetry::Metric;
use scribehook::Provider;
use serde_json::{json, Value};

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const LOGS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000";
const OUTPUT_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const DAILY_API_KEY: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:daily-api-key-AbCdEf";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scribehook-alarms";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SCRIBEHOOK_PYTHON").filter(|v| !v.is_empty()) {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "no Python with aws-sam-translator ($SCRIBEHOOK_PYTHON unset, {} missing): run `make setup`",
        venv.display()
    );
}

fn tool(name: &str) -> PathBuf {
    python()
        .parent()
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found beside {}: run `make setup`",
                python().display()
            )
        })
}

fn run(mut command: Command, stdin: &str) -> Output {
    let shown = format!("{command:?}");
    let mut child = command
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (run `make setup`)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The code's provider list, as `scribehook providers` prints it.
fn provider_list() -> String {
    Provider::ALL
        .iter()
        .map(|p| serde_json::to_string(&p.facts()).unwrap() + "\n")
        .collect()
}

/// A provider of a list: its name, route, logical-id stem and variables.
#[derive(Clone, Debug)]
struct Facts {
    name: String,
    id: String,
    route: String,
    secrets_env: String,
    secrets_arn_env: String,
    tolerance_env: String,
    tolerance_default_secs: Option<u64>,
    jwt: bool,
}

fn parse_list(list: &str) -> Vec<Facts> {
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_owned();
            Facts {
                name: s("name"),
                id: s("title").replace(' ', ""),
                route: s("route"),
                secrets_env: s("secrets_env"),
                secrets_arn_env: s("secrets_arn_env"),
                tolerance_env: s("tolerance_env"),
                tolerance_default_secs: v["tolerance_default_secs"].as_u64(),
                jwt: v["jwt_authorizer"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scribehook-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `scripts/template.py` run on template.yaml with `list`, written to `out`.
fn generate(list: &str, out: &Path) {
    let mut command = Command::new(python());
    command
        .arg("scripts/template.py")
        .args(["--providers", "-", "--template", "template.yaml", "--out"])
        .arg(out);
    let output = run(command, list);
    assert!(
        output.status.success(),
        "template.py failed: {}",
        describe(&output)
    );
}

// ------------------------------------------------------------------ parameter sets

/// One parameter set: a name and the parameters it sets (the rest keep their defaults).
type Set = (String, BTreeMap<&'static str, String>);

/// Every combination of the parameters that change what is deployed (StoreKind x KmsKeyArn
/// x DailyApiKeySecretArn x AlarmTopicArn), plus one set turning every other option on.
fn standard_sets() -> Vec<Set> {
    let mut sets = Vec::new();
    for store in ["dynamodb", "s3", "both"] {
        for kms in [false, true] {
            for api_key in [false, true] {
                for topic in [false, true] {
                    let mut p = BTreeMap::new();
                    p.insert("StoreKind", store.to_owned());
                    if kms {
                        p.insert("KmsKeyArn", KMS_KEY.to_owned());
                    }
                    if api_key {
                        p.insert("DailyApiKeySecretArn", DAILY_API_KEY.to_owned());
                    }
                    if topic {
                        p.insert("AlarmTopicArn", TOPIC.to_owned());
                    }
                    let name = format!(
                        "store={store} kms={kms} daily_api_key={api_key} alarm_topic={topic}"
                    );
                    sets.push((name, p));
                }
            }
        }
    }
    let mut all = BTreeMap::new();
    for (k, v) in [
        ("StoreKind", "both"),
        ("KmsKeyArn", KMS_KEY),
        ("LogsKmsKeyArn", LOGS_KEY),
        ("DailyApiKeySecretArn", DAILY_API_KEY),
        ("AlarmTopicArn", TOPIC),
        ("AllowedOutputBuckets", "daily-outputs-a,daily-outputs-b"),
        ("OutputBucketsKmsKeyArns", OUTPUT_KEY),
        ("ArchiveRetentionDays", "30"),
        ("DailySignatureToleranceSeconds", "600"),
        ("Tracing", "PassThrough"),
        ("Architecture", "x86_64"),
        ("NotifyExampleProvider", "bota"),
    ] {
        all.insert(k, v.to_owned());
    }
    sets.push(("every option set".to_owned(), all));
    // Record notifications: the stack's own bus is the default of every set above; then
    // the account's default bus, with and without the example consumer, and none at all.
    for (bus, example, store) in [
        ("default", "", "dynamodb"),
        ("default", "nabla", "both"),
        ("stack", "nabla-connect", "s3"),
        ("", "", "dynamodb"),
        ("", "bota", "both"),
    ] {
        let mut p = BTreeMap::new();
        p.insert("NotifyBus", bus.to_owned());
        p.insert("NotifyExampleProvider", example.to_owned());
        p.insert("StoreKind", store.to_owned());
        let name = format!("notify_bus={bus:?} example={example:?} store={store}");
        sets.push((name, p));
    }
    sets
}

/// One set's outcome: its parameters, its conditions' values and the settled template.
struct Deployed {
    name: String,
    params: Value,
    conditions: Value,
    template: Value,
}

impl Deployed {
    fn param(&self, name: &str) -> &Value {
        &self.params[name]
    }
    fn is_set(&self, name: &str) -> bool {
        self.params[name].as_str().is_some_and(|s| !s.is_empty())
    }
    fn resources(&self) -> &serde_json::Map<String, Value> {
        self.template["Resources"].as_object().unwrap()
    }
    fn resource(&self, name: &str) -> &Value {
        self.template["Resources"]
            .get(name)
            .unwrap_or_else(|| panic!("[{}] no resource {name}", self.name))
    }
    fn props(&self, name: &str) -> &Value {
        &self.resource(name)["Properties"]
    }
    fn of_type(&self, kind: &str) -> Vec<(&String, &Value)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .collect()
    }
}

fn transform(template: &Path, sets: &[Set]) -> Vec<Deployed> {
    let document: Vec<Value> = sets
        .iter()
        .map(|(name, p)| json!({"name": name, "parameters": p}))
        .collect();
    let mut command = Command::new(python());
    command
        .arg("scripts/sam_transform.py")
        .arg(template)
        .args(["--sets", "-"]);
    let output = run(command, &serde_json::to_string(&document).unwrap());
    assert!(
        output.status.success(),
        "the SAM transform failed (run `make setup` for aws-sam-translator): {}",
        describe(&output)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("sam_transform.py prints JSON");
    out["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Deployed {
            name: s["name"].as_str().unwrap().to_owned(),
            params: s["parameters"].clone(),
            conditions: s["conditions"].clone(),
            template: s["template"].clone(),
        })
        .collect()
}

/// template.yaml transformed for every standard set (once per test run).
fn deployed() -> &'static [Deployed] {
    static SETS: OnceLock<Vec<Deployed>> = OnceLock::new();
    SETS.get_or_init(|| transform(&root().join("template.yaml"), &standard_sets()))
}

fn providers() -> Vec<Facts> {
    parse_list(&provider_list())
}

// ------------------------------------------------------------------ IAM helpers

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// Every Allow statement of a role's inline policies, as (sorted actions, resources).
fn statements(d: &Deployed, role: &str) -> Vec<(Vec<String>, Vec<Value>)> {
    let mut out = Vec::new();
    for policy in d.props(role)["Policies"].as_array().into_iter().flatten() {
        for st in as_list(&policy["PolicyDocument"]["Statement"]) {
            assert_eq!(st["Effect"], "Allow", "[{}] {role}: {st}", d.name);
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "[{}] {role}: NotAction/NotResource in {st}",
                d.name
            );
            let mut actions: Vec<String> = as_list(&st["Action"])
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            actions.sort();
            for action in &actions {
                assert!(
                    !action.contains('*'),
                    "[{}] {role}: wildcard action {action}",
                    d.name
                );
            }
            let resources = as_list(&st["Resource"]);
            for r in &resources {
                assert_ne!(r, "*", "[{}] {role}: Resource * for {actions:?}", d.name);
            }
            out.push((actions, resources));
        }
    }
    out
}

fn role_of<'a>(d: &'a Deployed, function: &str) -> &'a str {
    d.props(function)["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("[{}] {function} has no role of its own", d.name))
}

fn managed(d: &Deployed, role: &str) -> BTreeSet<String> {
    as_list(&d.props(role)["ManagedPolicyArns"])
        .iter()
        .map(|a| a.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

fn actions(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn sub(text: &str) -> Value {
    json!({"Fn::Sub": text})
}
fn get_att(resource: &str, attribute: &str) -> Value {
    json!({"Fn::GetAtt": [resource, attribute]})
}
fn reference(name: &str) -> Value {
    json!({"Ref": name})
}

// ------------------------------------------------------------------ the provider list

#[test]
fn template_matches_the_code_provider_list() {
    let mut command = Command::new(python());
    command.args([
        "scripts/template.py",
        "--providers",
        "-",
        "--template",
        "template.yaml",
        "--check",
    ]);
    let output = run(command, &provider_list());
    assert!(
        output.status.success(),
        "template.yaml differs from what `scribehook providers` gives: run `make template`.\n{}",
        describe(&output)
    );
}

#[test]
fn every_provider_has_its_function_secret_log_group_route_and_outputs() {
    let list = providers();
    for d in deployed() {
        for p in &list {
            let function = format!("{}IngestFunction", p.id);
            let props = d.props(&function);
            let env = &props["Environment"]["Variables"];
            assert_eq!(env["PROVIDERS"], p.name.as_str(), "[{}] {function}", d.name);
            assert_eq!(
                env[&p.secrets_arn_env],
                reference(&format!("{}WebhookSecret", p.id))
            );
            assert_eq!(env[&p.secrets_env], "");
            assert_eq!(env["QUEUE_URL"], reference("DeliveryQueue"));
            for name in [
                "ARCHIVE",
                "STORE",
                "SIGNATURE_TOLERANCE_SECONDS",
                "MAX_BODY_BYTES",
                "INGEST_DEADLINE_MS",
                "POWERTOOLS_SERVICE_NAME",
                "POWERTOOLS_METRICS_NAMESPACE",
            ] {
                assert!(
                    env.get(name).is_some(),
                    "[{}] {function} lacks {name}",
                    d.name
                );
            }
            // The provider's own tolerance only when its parameter is set.
            let param = format!("{}SignatureToleranceSeconds", p.id);
            match d.param(&param).as_str().unwrap() {
                "" => assert!(
                    env.get(&p.tolerance_env).is_none(),
                    "[{}] {function}",
                    d.name
                ),
                value => assert_eq!(env[&p.tolerance_env], value),
            }
            assert_eq!(
                props["Timeout"], 10,
                "{function}: above IngestDeadlineMs (at most 9 s)"
            );
            assert_eq!(props["Runtime"], "provided.al2023");
            assert_eq!(props["Handler"], "bootstrap");
            assert_eq!(props["Architectures"], json!([d.param("Architecture")]));
            assert_eq!(props["TracingConfig"]["Mode"], *d.param("Tracing"));
            assert_eq!(props["LoggingConfig"]["LogFormat"], "JSON");
            assert_eq!(
                props["LoggingConfig"]["LogGroup"],
                reference(&format!("{}IngestLogGroup", p.id))
            );
            assert_eq!(
                d.resource(&function)["Metadata"]["BuildProperties"]["Binary"],
                "ingest"
            );
            let secret = d.resource(&format!("{}WebhookSecret", p.id));
            assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
            assert!(secret["Properties"]["GenerateSecretString"].is_object());
            let outputs = &d.template["Outputs"];
            assert!(outputs[format!("{}WebhookUrl", p.id)]["Value"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with(&p.route));
            assert_eq!(
                outputs[format!("{}SecretArn", p.id)]["Value"],
                reference(&format!("{}WebhookSecret", p.id))
            );
        }
        let ingest = d
            .of_type("AWS::Lambda::Function")
            .into_iter()
            .filter(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == "ingest")
            .count();
        assert_eq!(
            ingest,
            list.len(),
            "[{}] one ingest function per provider",
            d.name
        );
    }
}

/// What the ingest binary is given for the record store follows StoreKind (it only checks
/// the value at start-up; it never writes records: QUEUE_URL is set).
#[test]
fn store_follows_store_kind() {
    for d in deployed() {
        let expected = match d.param("StoreKind").as_str().unwrap() {
            "dynamodb" => sub("dynamodb://${RecordsTable}"),
            "s3" => sub("s3://${DataBucket}"),
            _ => sub("dynamodb://${RecordsTable},s3://${DataBucket}"),
        };
        for (name, f) in d.of_type("AWS::Lambda::Function") {
            let env = &f["Properties"]["Environment"]["Variables"];
            assert_eq!(env["STORE"], expected, "[{}] {name}", d.name);
            assert_eq!(env["ARCHIVE"], sub("s3://${DataBucket}/archive"));
        }
    }
}

// ------------------------------------------------------------------ least privilege

#[test]
fn each_ingest_role_reads_only_its_own_secret_writes_archive_and_queues() {
    for d in deployed() {
        for p in providers() {
            let function = format!("{}IngestFunction", p.id);
            let role = role_of(d, &function);
            let mut expected = vec![
                (
                    actions(&["secretsmanager:GetSecretValue"]),
                    vec![reference(&format!("{}WebhookSecret", p.id))],
                ),
                (
                    actions(&["s3:PutObject", "s3:GetObject"]),
                    vec![sub("${DataBucket.Arn}/archive/*")],
                ),
                (
                    actions(&["s3:ListBucket"]),
                    vec![get_att("DataBucket", "Arn")],
                ),
                (
                    actions(&["sqs:SendMessage"]),
                    vec![get_att("DeliveryQueue", "Arn")],
                ),
            ];
            if d.is_set("KmsKeyArn") {
                expected.push((
                    actions(&["kms:Decrypt", "kms:GenerateDataKey"]),
                    vec![json!(KMS_KEY)],
                ));
            }
            assert_eq!(statements(d, role), expected, "[{}] {role}", d.name);
            // X-Ray write access in either Tracing mode (PassThrough still sends sampled traces).
            let want = BTreeSet::from([
                "AWSLambdaBasicExecutionRole".to_owned(),
                "AWSXrayWriteOnlyAccess".to_owned(),
            ]);
            assert_eq!(
                managed(d, role),
                want,
                "[{}] {role} managed policies",
                d.name
            );
        }
    }
}

#[test]
fn processor_role_reads_only_allow_listed_buckets_and_the_daily_key() {
    for d in deployed() {
        let role = role_of(d, "ProcessorFunction");
        let archive_and_records = vec![
            sub("${DataBucket.Arn}/archive/*"),
            sub("${DataBucket.Arn}/records/*"),
        ];
        let mut expected = vec![
            (
                actions(&["s3:GetObject", "s3:PutObject"]),
                archive_and_records.clone(),
            ),
            (
                actions(&["s3:ListBucket"]),
                vec![get_att("DataBucket", "Arn")],
            ),
            (
                actions(&[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:Query",
                ]),
                vec![get_att("RecordsTable", "Arn")],
            ),
            (
                actions(&["s3:DeleteObject", "s3:DeleteObjectVersion"]),
                archive_and_records,
            ),
            (
                actions(&["s3:ListBucketVersions"]),
                vec![get_att("DataBucket", "Arn")],
            ),
        ];
        if d.is_set("KmsKeyArn") {
            expected.push((
                actions(&["kms:Decrypt", "kms:GenerateDataKey"]),
                vec![json!(KMS_KEY)],
            ));
        }
        if d.is_set("DailyApiKeySecretArn") {
            expected.push((
                actions(&["secretsmanager:GetSecretValue"]),
                vec![json!(DAILY_API_KEY)],
            ));
        }
        let buckets: Vec<String> = as_list(d.param("AllowedOutputBuckets"))
            .iter()
            .map(|b| b.as_str().unwrap().to_owned())
            .filter(|b| !b.is_empty())
            .collect();
        if !buckets.is_empty() {
            let arns = buckets
                .iter()
                .map(|b| format!("arn:aws:s3:::{b}/*"))
                .collect::<Vec<_>>()
                .join(",");
            // The ARNs are built with Fn::Join / Fn::Split over the list (CloudFormation's
            // work): check the pieces give exactly one object ARN per allow-listed bucket.
            expected.push((actions(&["s3:GetObject"]), vec![join_split_arns(d)]));
            assert_eq!(
                evaluate_join_split(&join_split_arns(d)),
                arns,
                "[{}] allow-listed bucket ARNs",
                d.name
            );
        }
        if as_list(d.param("OutputBucketsKmsKeyArns"))
            .iter()
            .any(|k| k != "")
        {
            expected.push((actions(&["kms:Decrypt"]), vec![json!(OUTPUT_KEY)]));
        }
        // Record notifications: PutEvents on the one bus NotifyBus names, nothing else.
        match d.param("NotifyBus").as_str().unwrap() {
            "stack" => expected.push((
                actions(&["events:PutEvents"]),
                vec![get_att("RecordEventBus", "Arn")],
            )),
            "default" => expected.push((
                actions(&["events:PutEvents"]),
                vec![sub(
                    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default",
                )],
            )),
            _ => {}
        }
        assert_eq!(statements(d, role), expected, "[{}] {role}", d.name);
        let want = BTreeSet::from([
            "AWSLambdaBasicExecutionRole".to_owned(),
            "AWSLambdaSQSQueueExecutionRole".to_owned(),
            "AWSXrayWriteOnlyAccess".to_owned(),
        ]);
        assert_eq!(
            managed(d, role),
            want,
            "[{}] {role} managed policies",
            d.name
        );
        let env = &d.props("ProcessorFunction")["Environment"]["Variables"];
        if d.is_set("DailyApiKeySecretArn") {
            assert_eq!(env["DAILY_API_KEY_ARN"], DAILY_API_KEY);
        } else {
            assert!(env.get("DAILY_API_KEY_ARN").is_none(), "[{}]", d.name);
        }
        assert_eq!(env["ALLOWED_OUTPUT_BUCKETS"]["Fn::Join"][0], ",");
    }
}

/// Record notifications (docs/behaviour.md#record-notifications-eventbridge): NOTIFY_BUS is
/// the bus NotifyBus names (none when empty, and no bus, rule or permission then), only the
/// processor may put events, and the example rule sends one provider's Record Completed to
/// a queue that only that rule may send to.
#[test]
fn record_notifications_follow_notify_bus() {
    for d in deployed() {
        let bus = d.param("NotifyBus").as_str().unwrap();
        let example = d.param("NotifyExampleProvider").as_str().unwrap();
        let env = &d.props("ProcessorFunction")["Environment"]["Variables"];
        let buses = d.of_type("AWS::Events::EventBus");
        match bus {
            "stack" => {
                assert_eq!(
                    env["NOTIFY_BUS"],
                    reference("RecordEventBus"),
                    "[{}]",
                    d.name
                );
                assert_eq!(buses.len(), 1, "[{}]", d.name);
                assert_eq!(
                    d.props("RecordEventBus")["Name"],
                    sub("${AWS::StackName}-records")
                );
            }
            "default" => {
                assert_eq!(env["NOTIFY_BUS"], "default", "[{}]", d.name);
                assert!(buses.is_empty(), "[{}]", d.name);
            }
            _ => {
                assert!(env.get("NOTIFY_BUS").is_none(), "[{}]", d.name);
                assert!(buses.is_empty(), "[{}]", d.name);
            }
        }
        // Only the processor may put events.
        for (name, f) in d.of_type("AWS::Lambda::Function") {
            if name != "ProcessorFunction" {
                let role = f["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap();
                assert!(
                    statements(d, role)
                        .iter()
                        .all(|(a, _)| !a.iter().any(|a| a.starts_with("events:"))),
                    "[{}] {name}",
                    d.name
                );
                assert!(f["Properties"]["Environment"]["Variables"]
                    .get("NOTIFY_BUS")
                    .is_none());
            }
        }
        let rules = d.of_type("AWS::Events::Rule");
        let outputs = &d.template["Outputs"];
        if bus.is_empty() || example.is_empty() {
            assert!(rules.is_empty(), "[{}]", d.name);
            assert!(outputs.get("CompletedRecordsQueueUrl").is_none());
            assert_eq!(outputs.get("RecordEventBusName").is_some(), !bus.is_empty());
            continue;
        }
        let rule = d.props("CompletedRecordsRule");
        assert_eq!(
            rule["EventPattern"],
            json!({"source": ["scribehook"], "detail-type": ["Record Completed"],
                   "detail": {"provider": [example]}}),
            "[{}]",
            d.name
        );
        let on_bus = if bus == "stack" {
            reference("RecordEventBus")
        } else {
            json!("default")
        };
        assert_eq!(rule["EventBusName"], on_bus, "[{}]", d.name);
        assert_eq!(
            rule["Targets"][0]["Arn"],
            get_att("CompletedRecordsQueue", "Arn")
        );
        let policy = d.props("CompletedRecordsQueuePolicy");
        let statement = &policy["PolicyDocument"]["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(statement["Action"], "sqs:SendMessage");
        assert_eq!(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            get_att("CompletedRecordsRule", "Arn")
        );
        assert_eq!(
            d.props("CompletedRecordsQueue")["SqsManagedSseEnabled"],
            true
        );
        assert_eq!(
            outputs["CompletedRecordsQueueUrl"]["Value"],
            reference("CompletedRecordsQueue")
        );
    }
}

/// The processor's output-bucket statement resource (the stack's partition is `aws` here).
fn join_split_arns(d: &Deployed) -> Value {
    let role = role_of(d, "ProcessorFunction");
    for policy in d.props(role)["Policies"].as_array().unwrap() {
        for st in as_list(&policy["PolicyDocument"]["Statement"]) {
            if st["Sid"] == "ReadAllowedOutputBuckets" {
                return st["Resource"].clone();
            }
        }
    }
    panic!("[{}] no ReadAllowedOutputBuckets statement", d.name)
}

/// Fn::Split / Fn::Join over literal lists (the parameter already substituted), as
/// CloudFormation evaluates them; returns the comma-joined result.
fn evaluate_join_split(v: &Value) -> String {
    fn eval(v: &Value) -> Vec<String> {
        if let Some(s) = v.as_str() {
            return vec![s.to_owned()];
        }
        if let Some(items) = v.as_array() {
            return items.iter().flat_map(eval).collect();
        }
        if let Some(args) = v.get("Fn::Join") {
            let sep = args[0].as_str().unwrap();
            return vec![eval(&args[1]).join(sep)];
        }
        if let Some(args) = v.get("Fn::Split") {
            let sep = args[0].as_str().unwrap();
            return eval(&args[1])
                .join("")
                .split(sep)
                .map(str::to_owned)
                .collect();
        }
        panic!("cannot evaluate {v}")
    }
    eval(v).join(",")
}

// ------------------------------------------------------------------ queue and processor

#[test]
fn processor_reports_batch_item_failures_and_the_queue_redrives_to_the_dlq() {
    for d in deployed() {
        let mappings = d.of_type("AWS::Lambda::EventSourceMapping");
        assert_eq!(mappings.len(), 1, "[{}]", d.name);
        let m = &mappings[0].1["Properties"];
        assert_eq!(m["EventSourceArn"], get_att("DeliveryQueue", "Arn"));
        assert_eq!(m["FunctionName"], reference("ProcessorFunction"));
        assert_eq!(
            m["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert!(m["ScalingConfig"]["MaximumConcurrency"].is_string());
        let queue = d.props("DeliveryQueue");
        assert_eq!(
            queue["RedrivePolicy"]["deadLetterTargetArn"],
            get_att("DeliveryDeadLetterQueue", "Arn")
        );
        assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"], 5);
        let timeout = d.props("ProcessorFunction")["Timeout"].as_u64().unwrap();
        let batching = m["MaximumBatchingWindowInSeconds"].as_u64().unwrap();
        assert!(
            queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout + batching,
            "[{}] visibility timeout below 6 x the processor's timeout",
            d.name
        );
        let dlq = d.props("DeliveryDeadLetterQueue");
        assert!(
            dlq["MessageRetentionPeriod"].as_u64() > queue["MessageRetentionPeriod"].as_u64(),
            "the dead-letter queue keeps messages longer than the queue"
        );
        assert_eq!(
            d.props("ProcessorFunction")["Environment"]["Variables"]["PURGE_ON_DELETE"],
            "true"
        );
    }
}

// ------------------------------------------------------------------ logs, tracing

#[test]
fn every_log_group_has_retention_and_every_function_its_own_group() {
    for d in deployed() {
        let groups: BTreeMap<&String, &Value> =
            d.of_type("AWS::Logs::LogGroup").into_iter().collect();
        for (name, g) in &groups {
            let p = &g["Properties"];
            assert_eq!(
                p["RetentionInDays"],
                *d.param("LogRetentionInDays"),
                "[{}] {name}",
                d.name
            );
            if d.is_set("LogsKmsKeyArn") {
                assert_eq!(p["KmsKeyId"], LOGS_KEY, "[{}] {name}", d.name);
            } else {
                assert!(p.get("KmsKeyId").is_none());
            }
        }
        for (name, f) in d.of_type("AWS::Lambda::Function") {
            let group = f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
                .as_str()
                .unwrap_or_else(|| panic!("[{}] {name} logs to Lambda's default group", d.name));
            assert!(
                groups.keys().any(|g| *g == group),
                "[{}] {name}: {group}",
                d.name
            );
            assert_eq!(f["Properties"]["LoggingConfig"]["LogFormat"], "JSON");
        }
        // The API's access log: no header or body in the format.
        let stage = d
            .of_type("AWS::ApiGatewayV2::Stage")
            .first()
            .map(|(_, s)| s["Properties"].clone())
            .expect("the API's stage");
        assert_eq!(
            stage["AccessLogSettings"]["DestinationArn"],
            get_att("WebhookApiAccessLogGroup", "Arn")
        );
        let format = stage["AccessLogSettings"]["Format"].as_str().unwrap();
        assert!(!format.contains("$request") && !format.contains("header"));
        assert!(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"].is_string());
        assert!(stage["DefaultRouteSettings"]["ThrottlingRateLimit"].is_string());
    }
}

// ------------------------------------------------------------------ encryption

#[test]
fn storage_and_queues_are_encrypted_with_the_customer_key_when_given() {
    for d in deployed() {
        let kms = d.is_set("KmsKeyArn");
        let bucket = d.props("DataBucket");
        let rule = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        if kms {
            assert_eq!(
                rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                "aws:kms"
            );
            assert_eq!(
                rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
                KMS_KEY
            );
            assert_eq!(rule["BucketKeyEnabled"], true);
        } else {
            assert_eq!(
                rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                "AES256"
            );
        }
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(
                bucket["PublicAccessBlockConfiguration"][key], true,
                "[{}] {key}",
                d.name
            );
        }
        assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
        assert_eq!(
            bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
            "BucketOwnerEnforced"
        );
        // TLS only: a Deny on the bucket and its objects without aws:SecureTransport.
        let policy = d.props("DataBucketPolicy");
        assert_eq!(policy["Bucket"], reference("DataBucket"));
        let deny = as_list(&policy["PolicyDocument"]["Statement"])
            .into_iter()
            .find(|s| s["Effect"] == "Deny")
            .expect("a Deny statement");
        assert_eq!(deny["Principal"], "*");
        assert_eq!(deny["Action"], "s3:*");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], false);
        assert_eq!(
            deny["Resource"],
            json!([get_att("DataBucket", "Arn"), sub("${DataBucket.Arn}/*")])
        );

        let table = d.props("RecordsTable");
        assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
        assert_eq!(
            table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
        if kms {
            assert_eq!(table["SSESpecification"]["SSEType"], "KMS");
            assert_eq!(table["SSESpecification"]["KMSMasterKeyId"], KMS_KEY);
        }
        for (name, q) in d.of_type("AWS::SQS::Queue") {
            let p = &q["Properties"];
            // The example consumer's queue: EventBridge could only send to it under the
            // customer key if that key's policy let events.amazonaws.com use it, which the
            // stack cannot grant; its messages carry no content.
            if kms && name != "CompletedRecordsQueue" {
                assert_eq!(p["KmsMasterKeyId"], KMS_KEY, "[{}] {name}", d.name);
                assert!(p.get("SqsManagedSseEnabled").is_none());
            } else {
                assert_eq!(p["SqsManagedSseEnabled"], true, "[{}] {name}", d.name);
            }
        }
        for (name, s) in d.of_type("AWS::SecretsManager::Secret") {
            if kms {
                assert_eq!(s["Properties"]["KmsKeyId"], KMS_KEY, "[{}] {name}", d.name);
            } else {
                assert!(s["Properties"].get("KmsKeyId").is_none());
            }
        }
        // Retention of archived deliveries only when asked.
        let rules = bucket["LifecycleConfiguration"]["Rules"]
            .as_array()
            .unwrap();
        let archive = rules.iter().find(|r| r["Id"] == "ExpireArchivedDeliveries");
        match d.param("ArchiveRetentionDays").as_str().unwrap() {
            "0" => assert!(archive.is_none(), "[{}]", d.name),
            days => {
                let r = archive.expect("ExpireArchivedDeliveries");
                // Not archive/: archive/large/ holds values the records point to.
                assert_eq!(r["Prefix"], "archive/raw/");
                assert_eq!(r["ExpirationInDays"], days);
                assert!(r["NoncurrentVersionExpiration"].is_object());
            }
        }
        assert_eq!(d.resource("RecordsTable")["DeletionPolicy"], "Retain");
        assert_eq!(d.resource("DataBucket")["DeletionPolicy"], "Retain");
    }
}

// ------------------------------------------------------------------ routes

/// The API's OpenAPI body: route path -> the function its integration invokes.
fn routes(d: &Deployed) -> BTreeMap<String, (String, Value)> {
    let body = &d.props("WebhookApi")["Body"];
    let mut out = BTreeMap::new();
    for (path, item) in body["paths"].as_object().unwrap() {
        let method = &item["x-amazon-apigateway-any-method"];
        let uri = method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("[{}] {path} has no Lambda integration", d.name));
        let function = uri
            .split("${")
            .nth(3)
            .and_then(|s| s.strip_suffix(".Arn}/invocations"))
            .unwrap_or_else(|| panic!("unexpected integration uri {uri}"))
            .to_owned();
        out.insert(path.clone(), (function, method.clone()));
    }
    out
}

#[test]
fn each_route_reaches_its_provider_function_and_any_other_path_the_first() {
    let list = providers();
    for d in deployed() {
        let routes = routes(d);
        let mut expected: BTreeMap<String, String> = list
            .iter()
            .map(|p| (p.route.clone(), format!("{}IngestFunction", p.id)))
            .collect();
        expected.insert("/$default".into(), format!("{}IngestFunction", list[0].id));
        let got: BTreeMap<String, String> = routes
            .iter()
            .map(|(k, (f, _))| (k.clone(), f.clone()))
            .collect();
        assert_eq!(got, expected, "[{}]", d.name);
        for (path, (_, method)) in &routes {
            assert_eq!(
                method["x-amazon-apigateway-integration"]["payloadFormatVersion"],
                "2.0"
            );
            assert!(
                method.get("security").is_none(),
                "[{}] {path} has an authorizer",
                d.name
            );
        }
        // API Gateway may invoke every ingest function (and nothing else).
        let invoked: BTreeSet<String> = d
            .of_type("AWS::Lambda::Permission")
            .iter()
            .map(|(_, p)| {
                assert_eq!(p["Properties"]["Principal"], "apigateway.amazonaws.com");
                p["Properties"]["FunctionName"]["Ref"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let functions: BTreeSet<String> = list
            .iter()
            .map(|p| format!("{}IngestFunction", p.id))
            .collect();
        assert_eq!(invoked, functions, "[{}]", d.name);
        assert_eq!(d.props("WebhookApi")["FailOnWarnings"], true);
    }
}

// ------------------------------------------------------------------ alarms

/// Metrics the functions emit (the code's list and Powertools' ColdStart).
fn emitted() -> BTreeSet<&'static str> {
    Metric::ALL
        .iter()
        .map(|m| m.name())
        .chain(["ColdStart"])
        .collect()
}

/// AWS's own metrics the alarms may use: (namespace, metric, what it watches).
const AWS_METRICS: [(&str, &str); 3] = [
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ("AWS/ApiGateway", "5xx"),
    ("AWS/Lambda", "Errors"),
];

#[test]
fn every_alarm_watches_a_metric_the_code_emits_for_every_provider() {
    let names: BTreeSet<String> = providers().into_iter().map(|p| p.name).collect();
    for d in deployed() {
        let namespace = d.param("MetricsNamespace").as_str().unwrap();
        let alarms = d.of_type("AWS::CloudWatch::Alarm");
        let ids: BTreeSet<&str> = alarms.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "DeadLetterQueueAlarm",
            "QuarantinedAlarm",
            "RejectedDeliveriesAlarm",
            "NotificationsFailedAlarm",
            "OutputBucketErrorsAlarm",
            "IngestServerErrorsAlarm",
            "ProcessorErrorsAlarm",
        ] {
            assert!(
                ids.contains(expected),
                "[{}] alarm {expected} missing",
                d.name
            );
        }
        for (name, alarm) in alarms {
            let p = &alarm["Properties"];
            if d.is_set("AlarmTopicArn") {
                assert_eq!(p["AlarmActions"], json!([TOPIC]), "[{}] {name}", d.name);
                assert_eq!(p["OKActions"], json!([TOPIC]), "[{}] {name}", d.name);
            } else {
                assert!(p.get("AlarmActions").is_none() && p.get("OKActions").is_none());
            }
            assert_eq!(p["TreatMissingData"], "notBreaching");
            let mut watched = Vec::new();
            if p.get("MetricName").is_some() {
                watched.push((
                    p["Namespace"].clone(),
                    p["MetricName"].clone(),
                    p["Dimensions"].clone(),
                ));
            }
            for q in p["Metrics"].as_array().into_iter().flatten() {
                if let Some(stat) = q.get("MetricStat") {
                    let m = &stat["Metric"];
                    watched.push((
                        m["Namespace"].clone(),
                        m["MetricName"].clone(),
                        m["Dimensions"].clone(),
                    ));
                } else {
                    assert!(q["Expression"].is_string(), "[{}] {name}: {q}", d.name);
                }
            }
            assert!(!watched.is_empty(), "[{}] {name} watches nothing", d.name);
            let mut providers_seen = BTreeSet::new();
            for (ns, metric, dims) in &watched {
                let (ns, metric) = (ns.as_str().unwrap(), metric.as_str().unwrap());
                if ns == namespace {
                    assert!(
                        emitted().contains(metric),
                        "[{}] {name} watches {metric}, which the code never emits",
                        d.name
                    );
                    // Exactly the dimensions the EMF documents carry: [service, provider].
                    let dims = dims.as_array().unwrap();
                    assert_eq!(dims.len(), 2, "[{}] {name}", d.name);
                    assert_eq!(dims[0]["Name"], "service");
                    assert_eq!(dims[0]["Value"], reference("AWS::StackName"));
                    assert_eq!(dims[1]["Name"], "provider");
                    providers_seen.insert(dims[1]["Value"].as_str().unwrap().to_owned());
                } else {
                    assert!(
                        AWS_METRICS.contains(&(ns, metric)),
                        "[{}] {name} watches {ns}/{metric}",
                        d.name
                    );
                }
            }
            if !providers_seen.is_empty() {
                assert_eq!(
                    providers_seen, names,
                    "[{}] {name} misses a provider",
                    d.name
                );
                let sum = p["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|q| q["ReturnData"] == true)
                    .unwrap();
                let ids: Vec<&str> = p["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|q| q.get("MetricStat").is_some())
                    .map(|q| q["Id"].as_str().unwrap())
                    .collect();
                assert_eq!(sum["Expression"], format!("SUM([{}])", ids.join(", ")));
            }
        }
        let dlq = d.props("DeadLetterQueueAlarm");
        assert_eq!(
            dlq["Dimensions"][0]["Value"],
            get_att("DeliveryDeadLetterQueue", "QueueName")
        );
        assert_eq!(
            d.props("IngestServerErrorsAlarm")["Dimensions"][0]["Value"],
            reference("WebhookApi")
        );
        assert_eq!(
            d.props("ProcessorErrorsAlarm")["Dimensions"][0]["Value"],
            reference("ProcessorFunction")
        );
    }
}

/// `DashboardBody` with each `${Name}` replaced by `<Name>` (and `${!x}`, a literal `${x}`,
/// kept), parsed as JSON; also returns the names substituted.
fn dashboard_body(d: &Deployed) -> (Value, Vec<String>) {
    let raw = d.props("Dashboard")["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is a Fn::Sub string");
    let (mut body, mut names, mut rest) = (String::new(), Vec::new(), raw);
    while let Some(at) = rest.find("${") {
        body.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find('}').expect("unclosed ${ in DashboardBody");
        if let Some(literal) = after[..end].strip_prefix('!') {
            body.push_str(&format!("${{{literal}}}"));
        } else {
            body.push_str(&format!("<{}>", &after[..end]));
            names.push(after[..end].to_owned());
        }
        rest = &after[end + 1..];
    }
    body.push_str(rest);
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("DashboardBody is not JSON: {e}\n{body}"));
    (json, names)
}

#[test]
fn dashboard_shows_emitted_metrics_every_function_and_every_alarm() {
    let d = &deployed()[0];
    let (body, names) = dashboard_body(d);
    let template_text = read("template.yaml");
    for name in &names {
        let base = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::")
                || d.resources().contains_key(base)
                || template_text.contains(&format!("\n  {base}:\n    Type: ")),
            "DashboardBody substitutes unknown ${{{name}}}"
        );
    }
    let widgets = body["widgets"].as_array().expect("widgets array");
    for widget in widgets {
        for key in ["type", "x", "y", "width", "height", "properties"] {
            assert!(widget.get(key).is_some(), "widget without {key}: {widget}");
        }
        let right = widget["x"].as_u64().unwrap() + widget["width"].as_u64().unwrap();
        assert!(right <= 24, "widget wider than the grid: {widget}");
    }
    let text = serde_json::to_string(&body).unwrap();
    // Every metric the dashboard names is one the code emits.
    for piece in text.split("MetricName=\\\"").skip(1) {
        let metric = piece.split('\\').next().unwrap();
        assert!(
            emitted().contains(metric),
            "the dashboard shows {metric}, never emitted"
        );
    }
    for metric in [
        "Accepted",
        "Duplicate",
        "Conflict",
        "Rejected",
        "Processed",
        "Quarantined",
        "Purged",
        "EndToEndLatency",
        "ColdStart",
    ] {
        assert!(
            text.contains(&format!("MetricName=\\\"{metric}\\\"")),
            "the dashboard does not show {metric}"
        );
    }
    for (function, _) in d.of_type("AWS::Lambda::Function") {
        for metric in ["Duration", "Errors"] {
            assert!(
                text.contains(&format!("\"{metric}\",\"FunctionName\",\"<{function}>\"")),
                "the dashboard lacks {metric} of {function}"
            );
        }
    }
    for (alarm, _) in d.of_type("AWS::CloudWatch::Alarm") {
        assert!(
            text.contains(&format!("\"<{alarm}.Arn>\"")),
            "alarm widget lacks {alarm}"
        );
    }
}

// ------------------------------------------------------------------ a fifth provider

/// The generator on a list that adds Nabla Connect (a hyphenated name, its own default
/// tolerance, an optional JWT authorizer): the template it writes transforms, passes
/// cfn-lint, and gives the new provider its own function, secret, log group, route, alarms
/// and outputs; its JWT authorizer exists only when its issuer and audience are set.
#[test]
fn a_fifth_provider_from_the_fixture_list() {
    let list = read("tests/fixtures/providers-nabla-connect.jsonl");
    let facts = parse_list(&list);
    let nc = facts
        .iter()
        .find(|p| p.name == "nabla-connect")
        .expect("fixture has nabla-connect");
    assert_eq!(nc.id, "NablaConnect");
    assert_eq!(nc.tolerance_default_secs, Some(60));
    assert!(nc.jwt);
    let path = scratch("nabla-connect.yaml");
    generate(&list, &path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(
        "Optional - overrides SignatureToleranceSeconds for Nabla Connect only \
         (NABLA_CONNECT_SIGNATURE_TOLERANCE_SECONDS). Empty - Nabla Connect's own default of 60 s applies."
    ));
    let lint = run_cfn_lint(&path);
    assert!(
        lint.status.success() && lint.stdout.is_empty(),
        "cfn-lint: {}",
        describe(&lint)
    );

    let issuer = "https://auth.example.com/";
    let mut on = BTreeMap::new();
    on.insert("NablaConnectJwtIssuer", issuer.to_owned());
    on.insert("NablaConnectJwtAudience", "scribehook".to_owned());
    on.insert("NablaConnectSignatureToleranceSeconds", "90".to_owned());
    let sets = transform(
        &path,
        &[
            ("jwt off".to_owned(), BTreeMap::new()),
            ("jwt on".to_owned(), on),
        ],
    );
    for d in &sets {
        let jwt = d.is_set("NablaConnectJwtIssuer");
        assert_eq!(d.conditions["HasNablaConnectJwt"], jwt);
        let function = "NablaConnectIngestFunction";
        let env = &d.props(function)["Environment"]["Variables"];
        assert_eq!(env["PROVIDERS"], "nabla-connect");
        assert_eq!(
            env["NABLA_CONNECT_WEBHOOK_SECRETS_ARN"],
            reference("NablaConnectWebhookSecret")
        );
        if jwt {
            assert_eq!(env["NABLA_CONNECT_SIGNATURE_TOLERANCE_SECONDS"], "90");
        } else {
            assert!(env
                .get("NABLA_CONNECT_SIGNATURE_TOLERANCE_SECONDS")
                .is_none());
        }
        let role = role_of(d, function);
        let secrets: Vec<Vec<Value>> = statements(d, role)
            .into_iter()
            .filter(|(a, _)| a.iter().any(|a| a.starts_with("secretsmanager:")))
            .map(|(_, r)| r)
            .collect();
        assert_eq!(secrets, vec![vec![reference("NablaConnectWebhookSecret")]]);
        assert_eq!(
            d.props("NablaConnectIngestLogGroup")["LogGroupName"],
            sub("/aws/lambda/${AWS::StackName}/nabla-connect-ingest")
        );
        let routes = routes(d);
        assert_eq!(routes["/webhooks/nabla-connect"].0, function);
        for (path, (_, method)) in &routes {
            if path == "/webhooks/nabla-connect" && jwt {
                assert_eq!(method["security"], json!([{"NablaConnectJwt": []}]));
            } else {
                assert!(method.get("security").is_none(), "[{}] {path}", d.name);
            }
        }
        let schemes = &d.props("WebhookApi")["Body"]["components"]["securitySchemes"];
        if jwt {
            let authorizer = &schemes["NablaConnectJwt"]["x-amazon-apigateway-authorizer"];
            assert_eq!(authorizer["type"], "jwt");
            assert_eq!(
                authorizer["identitySource"],
                "$request.header.Authorization"
            );
            assert_eq!(authorizer["jwtConfiguration"]["issuer"], issuer);
            assert_eq!(
                authorizer["jwtConfiguration"]["audience"],
                json!(["scribehook"])
            );
        } else {
            assert!(
                schemes.get("NablaConnectJwt").is_none(),
                "[{}] {schemes}",
                d.name
            );
        }
        for alarm in ["QuarantinedAlarm", "RejectedDeliveriesAlarm"] {
            let metrics = d.props(alarm)["Metrics"].as_array().unwrap();
            assert!(metrics.iter().any(|m| m["Id"] == "nabla_connect"
                && m["MetricStat"]["Metric"]["Dimensions"][1]["Value"] == "nabla-connect"));
        }
        assert!(d.template["Outputs"]["NablaConnectWebhookUrl"].is_object());
        assert!(d.template["Outputs"]["NablaConnectSecretArn"].is_object());
    }
    // The four original providers keep their logical ids and parameters.
    for id in ["Daily", "Bota", "Nabla", "Prosa"] {
        assert!(sets[0]
            .resources()
            .contains_key(&format!("{id}IngestFunction")));
        assert!(text.contains(&format!("\n  {id}SignatureToleranceSeconds:\n")));
    }
    // Only a provider whose facts ask for it gets JWT parameters.
    assert!(!text.contains("DailyJwtIssuer") && text.contains("\n  NablaConnectJwtIssuer:\n"));
    let _ = std::fs::remove_file(&path);
}

// ------------------------------------------------------------------ cfn-lint

fn run_cfn_lint(template: &Path) -> Output {
    let mut command = Command::new(tool("cfn-lint"));
    command
        .args(["--append-rules", "cfn_lint_serverless.rules", "--"])
        .arg(template);
    run(command, "")
}

#[test]
fn cfn_lint_with_serverless_rules_reports_nothing() {
    let output = run_cfn_lint(Path::new("template.yaml"));
    assert!(
        output.status.success() && output.stdout.is_empty(),
        "cfn-lint (with cfn-lint-serverless) must report nothing; {}",
        describe(&output)
    );
}

/// Guards the test above: the linter in use must really check (a visibility timeout above
/// SQS's maximum fails), and
/// the serverless rules must be loaded (a function without its log group's retention fails).
#[test]
fn cfn_lint_rejects_a_broken_template() {
    let template = read("template.yaml");
    assert!(template.contains("VisibilityTimeout: 750\n"));
    let path = scratch("broken.yaml");
    std::fs::write(
        &path,
        template.replace("VisibilityTimeout: 750\n", "VisibilityTimeout: 75000\n"),
    )
    .unwrap();
    let output = run_cfn_lint(&path);
    assert!(
        !output.status.success() && !output.stdout.is_empty(),
        "cfn-lint accepted a visibility timeout above SQS's maximum, so it checks nothing; {}",
        describe(&output)
    );
    let unsuppressed = template.replace("ignore_checks: [ES6000]", "ignore_checks: []");
    std::fs::write(&path, unsuppressed).unwrap();
    let output = run_cfn_lint(&path);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ES6000"),
        "cfn-lint-serverless rules are not loaded; {}",
        describe(&output)
    );
    let _ = std::fs::remove_file(&path);
}

// ------------------------------------------------------------------ samconfig

#[test]
fn samconfig_builds_and_deploys_non_interactively_with_lint() {
    let config = read("samconfig.toml");
    for needle in [
        "version = 0.1",
        "[default.global.parameters]",
        "stack_name = \"scribehook\"",
        "[default.build.parameters]",
        "cached = false",
        "parallel = true",
        "beta_features = true",
        "[default.deploy.parameters]",
        "capabilities = \"CAPABILITY_IAM\"",
        "confirm_changeset = true",
        "resolve_s3 = true",
        "[default.validate.parameters]",
        "lint = true",
    ] {
        assert!(config.contains(needle), "samconfig.toml lacks `{needle}`");
    }
}
