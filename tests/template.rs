//! The SAM template (`template.yaml`) and its `samconfig.toml`: cfn-lint must accept the
//! template without a single finding, and the template must wire up the contract's routes and
//! environment variables. There is no YAML parser among the dependencies, so the structural
//! checks are cfn-lint's (it runs the SAM transform locally) and the rest are text-level.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROVIDERS: [&str; 4] = ["daily", "bota", "nabla", "prosa"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `$CFN_LINT`, else the project's `.venv/bin/cfn-lint` (what `make setup` installs), else
/// `cfn-lint` on `PATH`. Not finding it fails the test: a lint that silently did not run
/// would pass every template.
fn cfn_lint() -> PathBuf {
    if let Some(explicit) = std::env::var_os("CFN_LINT").filter(|v| !v.is_empty()) {
        return PathBuf::from(explicit);
    }
    let venv = root().join(".venv").join("bin").join("cfn-lint");
    if venv.is_file() {
        return venv;
    }
    if let Some(found) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("cfn-lint"))
        .find(|candidate| candidate.is_file())
    {
        return found;
    }
    panic!(
        "cfn-lint not found (looked for $CFN_LINT, {} and cfn-lint on PATH): run `make setup` \
         to install it, then run the tests again",
        venv.display()
    );
}

fn run_cfn_lint(template: &Path) -> Output {
    let lint = cfn_lint();
    Command::new(&lint)
        .arg("--")
        .arg(template)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): run `make setup` to install cfn-lint",
                lint.display()
            )
        })
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn cfn_lint_reports_nothing() {
    let output = run_cfn_lint(Path::new("template.yaml"));
    assert!(
        output.status.success() && output.stdout.is_empty(),
        "cfn-lint template.yaml must report nothing; {}",
        describe(&output)
    );
}

/// Guards the test above: the linter in use must really check (a broken runtime fails).
#[test]
fn cfn_lint_rejects_a_broken_template() {
    let template = read("template.yaml");
    assert!(template.contains("Runtime: provided.al2023"));
    let broken = template.replace("Runtime: provided.al2023", "Runtime: provided.bogus");
    let dir = std::env::temp_dir().join(format!("scribehook-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let output = run_cfn_lint(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !output.status.success() && !output.stdout.is_empty(),
        "cfn-lint accepted a template with a bogus Runtime, so it checks nothing; {}",
        describe(&output)
    );
}

#[test]
fn template_wires_routes_build_and_runtime() {
    let template = read("template.yaml");
    for provider in PROVIDERS {
        let path = format!("Path: /webhooks/{provider}");
        assert_eq!(
            template.matches(&path).count(),
            1,
            "exactly one route `{path}` expected"
        );
        assert!(
            template.contains(&format!("PROVIDERS: {provider}\n")),
            "the {provider} ingest function must serve only {provider} (PROVIDERS)"
        );
    }
    for function in [
        "DailyIngestFunction",
        "BotaIngestFunction",
        "NablaIngestFunction",
        "ProsaIngestFunction",
        "ProcessorFunction",
    ] {
        assert!(
            template.contains(&format!(
                "\n  {function}:\n    Type: AWS::Serverless::Function\n"
            )),
            "{function} missing"
        );
    }
    assert_eq!(template.matches("Binary: ingest\n").count(), 4);
    assert_eq!(template.matches("Binary: processor\n").count(), 1);
    assert_eq!(
        template.matches("BuildMethod: rust-cargolambda\n").count(),
        5
    );
    for needle in [
        "Type: AWS::Serverless::HttpApi",
        "ReportBatchItemFailures",
        "Runtime: provided.al2023",
        "Handler: bootstrap",
        "arm64",
        "LogFormat: JSON",
        "CodeUri: ./",
    ] {
        assert!(template.contains(needle), "template lacks `{needle}`");
    }
}

#[test]
fn template_sets_every_contract_variable() {
    let template = read("template.yaml");
    let mut names = vec![
        "ARCHIVE".to_owned(),
        "STORE".to_owned(),
        "QUEUE_URL".to_owned(),
        "ALLOWED_OUTPUT_BUCKETS".to_owned(),
        "MAX_OUTPUT_BYTES".to_owned(),
        "SIGNATURE_TOLERANCE_SECONDS".to_owned(),
        "MAX_BODY_BYTES".to_owned(),
    ];
    names.extend(PROVIDERS.map(|p| format!("{}_WEBHOOK_SECRETS_ARN", p.to_ascii_uppercase())));
    for name in names {
        assert!(
            template.contains(&format!(" {name}: ")),
            "template sets no environment variable {name}"
        );
    }
}

#[test]
fn samconfig_builds_and_deploys_non_interactively_with_lint() {
    let config = read("samconfig.toml");
    for needle in [
        "version = 0.1",
        "[default.global.parameters]",
        "stack_name = \"scribehook\"",
        "[default.build.parameters]",
        "cached = true",
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

/// The text of one top-level entry of a section (a parameter, a resource, an output): its
/// `  Name:` line and every following line indented deeper (or blank).
fn entry<'a>(template: &'a str, name: &str) -> &'a str {
    let header = format!("\n  {name}:\n");
    let start = template
        .find(&header)
        .unwrap_or_else(|| panic!("template has no `{name}` entry"))
        + 1;
    let body = start + header.len() - 1;
    let len: usize = template[body..]
        .split_inclusive('\n')
        .take_while(|line| line.trim().is_empty() || line.starts_with("   "))
        .map(str::len)
        .sum();
    &template[start..body + len]
}

/// Names declared directly under a top-level section (`Parameters:`, `Resources:`, ...).
fn section_names(template: &str, section: &str) -> Vec<String> {
    let start = template
        .find(&format!("\n{section}:\n"))
        .unwrap_or_else(|| panic!("template has no {section} section"));
    template[start + section.len() + 2..]
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with(' '))
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| !line.starts_with(' ') && !line.starts_with('#'))
        .filter_map(|line| line.strip_suffix(':'))
        .map(str::to_owned)
        .collect()
}

fn resources_of_type(template: &str, kind: &str) -> Vec<String> {
    section_names(template, "Resources")
        .into_iter()
        .filter(|name| entry(template, name).contains(&format!("\n    Type: {kind}\n")))
        .collect()
}

#[test]
fn template_traces_every_function_behind_a_parameter() {
    let template = read("template.yaml");
    let parameter = entry(&template, "Tracing");
    for needle in [
        "Type: String",
        "Default: Active",
        "AllowedValues: [Active, PassThrough]",
    ] {
        assert!(
            parameter.contains(needle),
            "Tracing parameter lacks `{needle}`"
        );
    }
    // In Globals, so every function (ingest and processor) is traced; SAM adds the X-Ray
    // write policy to each role.
    let globals =
        &template[template.find("\nGlobals:\n").unwrap()..template.find("\nResources:\n").unwrap()];
    assert!(
        globals.contains("    Tracing: !Ref Tracing\n"),
        "Globals must set Tracing"
    );
    assert!(
        !template.contains("Tracing: Active") && !template.contains("Tracing: PassThrough"),
        "no function may hard-code its tracing mode"
    );
}

#[test]
fn template_sets_observability_deadline_and_purge_variables() {
    let template = read("template.yaml");
    for (name, value) in [
        ("POWERTOOLS_SERVICE_NAME", "!Ref AWS::StackName"),
        ("POWERTOOLS_METRICS_NAMESPACE", "!Ref MetricsNamespace"),
    ] {
        assert_eq!(
            template
                .matches(&format!("\n        {name}: {value}\n"))
                .count(),
            1,
            "Globals must set {name} to {value}"
        );
    }
    assert_eq!(
        entry(&template, "MetricsNamespace")
            .matches("Default: scribehook\n")
            .count(),
        1
    );
    // Every ingest function has the deadline, below its timeout.
    assert_eq!(
        template
            .matches("\n          INGEST_DEADLINE_MS: !Ref IngestDeadlineMs\n")
            .count(),
        4
    );
    let deadline = entry(&template, "IngestDeadlineMs");
    assert!(deadline.contains("Default: 6000\n") && deadline.contains("MaxValue: 9000\n"));
    for provider in PROVIDERS {
        let name = format!(
            "{}{}IngestFunction",
            provider[..1].to_uppercase(),
            &provider[1..]
        );
        assert!(
            entry(&template, &name).contains("\n      Timeout: 10\n"),
            "{name} must time out after IngestDeadlineMs (at most 9 s)"
        );
        // Optional per-provider tolerance: absent unless the parameter is set.
        let upper = provider.to_ascii_uppercase();
        let param = format!("{}{}SignatureToleranceSeconds", &name[..1], &provider[1..]);
        let condition = format!("Has{}{}SignatureTolerance", &name[..1], &provider[1..]);
        assert!(
            entry(&template, &name).contains(&format!(
                "{upper}_SIGNATURE_TOLERANCE_SECONDS: !If [{condition}, !Ref {param}, !Ref AWS::NoValue]"
            )),
            "{name} lacks its optional {upper}_SIGNATURE_TOLERANCE_SECONDS"
        );
        assert!(template.contains(&format!("{condition}: !Not [!Equals [!Ref {param}, \"\"]]")));
        assert!(entry(&template, &param).contains("Default: \"\"\n"));
    }
    let processor = entry(&template, "ProcessorFunction");
    assert!(processor.contains("PURGE_ON_DELETE: !Ref PurgeOnDelete\n"));
    let purge = entry(&template, "PurgeOnDelete");
    assert!(
        purge.contains("Default: \"true\"\n")
            && purge.contains("AllowedValues: [\"true\", \"false\"]")
    );
}

#[test]
fn template_alarms_on_dlq_quarantine_rejections_5xx_and_processor_errors() {
    let template = read("template.yaml");
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    for expected in [
        "DeadLetterQueueAlarm",
        "QuarantinedAlarm",
        "RejectedDeliveriesAlarm",
        "IngestServerErrorsAlarm",
        "ProcessorErrorsAlarm",
    ] {
        assert!(
            alarms.iter().any(|a| a == expected),
            "alarm {expected} missing"
        );
    }
    for alarm in &alarms {
        let text = entry(&template, alarm);
        for needle in [
            "AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]",
            "OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]",
            "TreatMissingData: notBreaching",
        ] {
            assert!(text.contains(needle), "{alarm} lacks `{needle}`");
        }
    }
    // The EMF metrics have exactly the dimensions [service, provider]: the alarm adds the four
    // providers' series (an alarm cannot SEARCH).
    for (alarm, metric) in [
        ("QuarantinedAlarm", "Quarantined"),
        ("RejectedDeliveriesAlarm", "Rejected"),
    ] {
        let text = entry(&template, alarm);
        assert!(text.contains("Expression: SUM([daily, bota, nabla, prosa])"));
        assert_eq!(text.matches(&format!("MetricName: {metric}\n")).count(), 4);
        assert_eq!(
            text.matches("Namespace: !Ref MetricsNamespace\n").count(),
            4
        );
        assert_eq!(
            text.matches("- Name: service\n                  Value: !Ref AWS::StackName\n")
                .count(),
            4
        );
        for provider in PROVIDERS {
            assert!(
                text.contains(&format!("        - Id: {provider}\n"))
                    && text.contains(&format!(
                        "- Name: provider\n                  Value: {provider}\n"
                    )),
                "{alarm} lacks provider {provider}"
            );
        }
    }
    let api = entry(&template, "IngestServerErrorsAlarm");
    assert!(api.contains("Namespace: AWS/ApiGateway") && api.contains("MetricName: 5xx"));
    assert!(api.contains("Value: !Ref WebhookApi"));
    let processor = entry(&template, "ProcessorErrorsAlarm");
    assert!(
        processor.contains("Namespace: AWS/Lambda") && processor.contains("MetricName: Errors")
    );
    assert!(processor.contains("Value: !Ref ProcessorFunction"));
}

/// `DashboardBody` with each `${Name}` replaced by `<Name>` (and `${!x}`, a literal `${x}`,
/// kept), parsed as JSON; also returns the names substituted.
fn dashboard_body(template: &str) -> (serde_json::Value, Vec<String>) {
    let dashboard = entry(template, "Dashboard");
    let marker = "DashboardBody: !Sub |\n";
    let start = dashboard
        .find(marker)
        .expect("DashboardBody is a !Sub block")
        + marker.len();
    let raw: String = dashboard[start..]
        .lines()
        .map(|line| line.strip_prefix("        ").unwrap_or(line.trim_start()))
        .collect::<Vec<_>>()
        .join("\n");
    let (mut body, mut names, mut rest) = (String::new(), Vec::new(), raw.as_str());
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
fn template_dashboard_shows_every_figure() {
    let template = read("template.yaml");
    let (body, names) = dashboard_body(&template);
    let parameters = section_names(&template, "Parameters");
    let resources = section_names(&template, "Resources");
    for name in &names {
        let base = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::") || parameters.iter().chain(&resources).any(|n| n == base),
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
    assert_eq!(
        text.matches("{\\\"<MetricsNamespace>\\\",provider,service}")
            .count(),
        9,
        "per-provider widgets must search the [service, provider] metrics of MetricsNamespace"
    );
    for needle in [
        "\"ApproximateNumberOfMessagesVisible\",\"QueueName\",\"<DeliveryDeadLetterQueue.QueueName>\"",
        "\"5xx\",\"ApiId\",\"<WebhookApi>\"",
    ] {
        assert!(text.contains(needle), "the dashboard lacks {needle}");
    }
    for function in resources_of_type(&template, "AWS::Serverless::Function") {
        for metric in ["Duration", "Errors"] {
            assert!(
                text.contains(&format!("\"{metric}\",\"FunctionName\",\"<{function}>\"")),
                "the dashboard lacks {metric} of {function}"
            );
        }
    }
    for alarm in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        assert!(
            text.contains(&format!("\"<{alarm}.Arn>\"")),
            "alarm widget lacks {alarm}"
        );
    }
}

#[test]
fn template_expires_archived_deliveries_only_when_asked() {
    let template = read("template.yaml");
    assert!(entry(&template, "ArchiveRetentionDays").contains("Default: 0\n"));
    assert!(
        template.contains("HasArchiveRetention: !Not [!Equals [!Ref ArchiveRetentionDays, \"0\"]]")
    );
    let bucket = entry(&template, "DataBucket");
    let rule = &bucket[bucket
        .find("- HasArchiveRetention")
        .expect("conditional rule")..];
    for needle in [
        "Id: ExpireArchivedDeliveries",
        // Not archive/: archive/large/ holds values the DynamoDB records point to.
        "Prefix: archive/raw/\n",
        "ExpirationInDays: !Ref ArchiveRetentionDays",
        "NoncurrentVersionExpiration:",
        "- !Ref AWS::NoValue",
    ] {
        assert!(
            rule.contains(needle),
            "archive retention rule lacks `{needle}`"
        );
    }
}

#[test]
fn template_uses_the_customer_kms_key_when_given() {
    let template = read("template.yaml");
    assert!(entry(&template, "KmsKeyArn").contains("Default: \"\"\n"));
    assert!(template.contains("HasKmsKey: !Not [!Equals [!Ref KmsKeyArn, \"\"]]"));
    let bucket = entry(&template, "DataBucket");
    assert!(
        bucket.contains("SSEAlgorithm: aws:kms")
            && bucket.contains("KMSMasterKeyID: !Ref KmsKeyArn")
    );
    let table = entry(&template, "RecordsTable");
    assert!(table.contains("SSEType: KMS") && table.contains("KMSMasterKeyId: !Ref KmsKeyArn"));
    for queue in ["DeliveryQueue", "DeliveryDeadLetterQueue"] {
        assert!(
            entry(&template, queue)
                .contains("KmsMasterKeyId: !If [HasKmsKey, !Ref KmsKeyArn, !Ref AWS::NoValue]"),
            "{queue} ignores KmsKeyArn"
        );
    }
    for function in resources_of_type(&template, "AWS::Serverless::Function") {
        let text = entry(&template, &function);
        assert!(
            text.contains("- HasKmsKey\n              - Sid: UseDataKey")
                && text.contains("Action: [kms:Decrypt, kms:GenerateDataKey]")
                && text.contains("Resource: !Ref KmsKeyArn"),
            "{function} cannot use KmsKeyArn"
        );
    }
    let processor = entry(&template, "ProcessorFunction");
    assert!(processor.contains("Sid: DecryptOutputBuckets"));
    assert!(processor.contains("Resource: !Ref OutputBucketsKmsKeyArns"));
    // Output bucket ARNs name the stack's partition, not always "aws".
    for partition in ["aws-cn", "aws-us-gov", "aws"] {
        assert!(processor.contains(&format!(
            "!Join [\"/*,arn:{partition}:s3:::\", !Ref AllowedOutputBuckets]"
        )));
    }
    assert!(
        processor.contains("- InChinaPartition") && processor.contains("- InGovCloudPartition")
    );
}

#[test]
fn template_opens_the_daily_api_key_secret_and_nothing_else() {
    let template = read("template.yaml");
    assert!(entry(&template, "DailyApiKeySecretArn").contains("Default: \"\"\n"));
    let processor = entry(&template, "ProcessorFunction");
    assert!(processor.contains(
        "DAILY_API_KEY_ARN: !If [HasDailyApiKey, !Ref DailyApiKeySecretArn, !Ref AWS::NoValue]"
    ));
    assert!(processor.contains(
        "- HasDailyApiKey\n              - Sid: ReadDailyApiKey\n                Effect: Allow\n                Action: secretsmanager:GetSecretValue\n                Resource: !Ref DailyApiKeySecretArn\n"
    ));
    assert_eq!(processor.matches("secretsmanager:").count(), 1);
    // The condition, the variable and the policy statement: nothing else uses the key.
    assert_eq!(template.matches("!Ref DailyApiKeySecretArn").count(), 3);
}

#[test]
fn template_builds_for_either_architecture_and_routes_unknown_paths_to_the_ingest() {
    let template = read("template.yaml");
    let architecture = entry(&template, "Architecture");
    assert!(architecture.contains("Default: arm64\n"));
    assert!(architecture.contains("AllowedValues: [arm64, x86_64]"));
    assert!(template.contains("\n    Architectures: [!Ref Architecture]\n"));
    assert_eq!(template.matches("Architectures:").count(), 1);
    // An HttpApi event without Path and Method is the API's $default route: unknown paths get
    // the ingest's JSON 404 unknown_provider, not API Gateway's own.
    let daily = entry(&template, "DailyIngestFunction");
    let catch_all = &daily[daily
        .find("        UnknownRoutes:\n")
        .expect("$default route")..];
    assert!(catch_all.contains("Type: HttpApi") && catch_all.contains("ApiId: !Ref WebhookApi"));
    assert!(!catch_all.contains("Path:") && !catch_all.contains("Method:"));
}
