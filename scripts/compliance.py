#!/usr/bin/env python3
"""`make compliance`: the template held to published policy rules, and docs/compliance.md.

    compliance.py transform --out DIR          (.venv: aws-sam-translator)
    compliance.py guard --out DIR --rules-wheel WHEEL   (.venv-compliance: guardpycfn)
    compliance.py report --out DIR --doc docs/compliance.md   (.venv)

`transform` writes DIR/templates/<set>.json: template.yaml through the SAM transform with
that parameter set's conditions settled (scripts/sam_transform.py), for the sets a reviewer
cares about (AWS-managed keys; customer-managed keys with everything optional turned on).
checkov then runs on DIR/templates (the Makefile calls it). `guard` runs the rules of AWS's
Guard rules registry that belong to its `hipaa-security` rule set, as far as a package on
PyPI ships them, with cfn-guard (through its Python bindings), on the same templates.
`report` reads every result (the template tests, cfn-lint, checkov, Guard) and the
transformed templates, and writes the evidence document. It exits non-zero when any check
failed, after writing the document (which then says what failed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
LOGS_KEY = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"

SETS = {
    "aws-managed-keys": {},
    "customer-keys": {
        "StoreKind": "both",
        "KmsKeyArn": KMS_KEY,
        "LogsKmsKeyArn": LOGS_KEY,
        "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:scribehook-alarms",
        "DailyApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:daily-api-key-AbCdEf",
        "AllowedOutputBuckets": "daily-outputs",
        "ArchiveRetentionDays": "30",
    },
}
SET_TITLES = {
    "aws-managed-keys": "defaults (AWS-managed keys, StoreKind dynamodb, nothing optional set)",
    "customer-keys": "customer-managed keys (KmsKeyArn, LogsKmsKeyArn), StoreKind both, alarm topic, Daily API key, an output bucket, archive retention",
}

# The rules of the registry's hipaa-security rule set, with the HIPAA Security Rule
# sections the registry maps each to, that can apply to the resource types this template
# creates (IAM roles, S3, DynamoDB, Lambda, SQS, Secrets Manager, CloudWatch Logs and
# alarms, API Gateway HTTP API). The set's other rules concern resources the stack does not
# have (EC2, RDS, Redshift, EMR, ELB, OpenSearch, SageMaker, ...).
HIPAA_RULES = {
    "IAM_NO_INLINE_POLICY_CHECK": "164.308(a)(3)(i), 164.308(a)(4)(i), 164.312(a)(1)",
    "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS": "164.308(a)(3)(i), 164.308(a)(4)(i), 164.312(a)(1)",
    "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS": "164.308(a)(3)(i), 164.308(a)(4)(i), 164.312(a)(1)",
    "IAM_USER_NO_POLICIES_CHECK": "164.308(a)(3)(i), 164.308(a)(4)(i), 164.312(a)(1)",
    "S3_BUCKET_POLICY_GRANTEE_CHECK": "164.308(a)(3)(i), 164.308(a)(4)(i), 164.312(a)(1)",
    "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED": "164.308(a)(3)(i), 164.312(a)(1), 164.312(e)(1)",
    "LAMBDA_INSIDE_VPC": "164.308(a)(3)(i), 164.312(a)(1), 164.312(e)(1)",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED": "164.308(a)(3)(i), 164.312(a)(1), 164.312(e)(1)",
    "S3_BUCKET_PUBLIC_WRITE_PROHIBITED": "164.308(a)(3)(i), 164.312(a)(1), 164.312(e)(1)",
    "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED": "164.308(a)(3)(i), 164.312(a)(1), 164.312(e)(1)",
    "S3_BUCKET_LOGGING_ENABLED": "164.308(a)(3)(ii)(A), 164.312(b)",
    "SECRETSMANAGER_ROTATION_ENABLED_CHECK": "164.308(a)(4)(ii)(B)",
    "DYNAMODB_AUTOSCALING_ENABLED": "164.308(a)(7)(i), 164.308(a)(7)(ii)(C)",
    "DYNAMODB_IN_BACKUP_PLAN": "164.308(a)(7)(i), 164.308(a)(7)(ii)(A), 164.308(a)(7)(ii)(B)",
    "DYNAMODB_PITR_ENABLED": "164.308(a)(7)(i), 164.308(a)(7)(ii)(A), 164.308(a)(7)(ii)(B)",
    "S3_BUCKET_REPLICATION_ENABLED": "164.308(a)(7)(i), 164.308(a)(7)(ii)(A), 164.308(a)(7)(ii)(B)",
    "S3_BUCKET_VERSIONING_ENABLED": "164.308(a)(7)(i), 164.308(a)(7)(ii)(A), 164.312(c)(1), 164.312(c)(2)",
    "API_GW_CACHE_ENABLED_AND_ENCRYPTED": "164.312(a)(2)(iv), 164.312(e)(2)(ii)",
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED": "164.312(a)(2)(iv), 164.312(e)(2)(ii)",
    "DYNAMODB_TABLE_ENCRYPTED_KMS": "164.312(a)(2)(iv), 164.312(e)(2)(ii)",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED": "164.312(a)(2)(iv), 164.312(c)(2), 164.312(e)(2)(ii)",
    "S3_BUCKET_SSL_REQUESTS_ONLY": "164.312(a)(2)(iv), 164.312(c)(2), 164.312(e)(1), 164.312(e)(2)(i)",
    "S3_DEFAULT_ENCRYPTION_KMS": "164.312(a)(2)(iv), 164.312(e)(2)(ii)",
    "SECRETSMANAGER_USING_CMK": "164.312(a)(2)(iv), 164.312(e)(2)(ii)",
    "API_GW_EXECUTION_LOGGING_ENABLED": "164.312(b)",
    "CLOUDWATCH_ALARM_ACTION_CHECK": "164.312(b)",
    "CW_LOGGROUP_RETENTION_PERIOD_CHECK": "164.312(b)",
    "DYNAMODB_THROUGHPUT_LIMIT_CHECK": "164.312(b)",
    "LAMBDA_CONCURRENCY_CHECK": "164.312(b)",
    "LAMBDA_DLQ_CHECK": "164.312(b)",
}

# Where a hipaa-security rule is not in the package's rule file, what holds the same
# control here instead (a template test, a checkov check, or the reason it does not apply).
HIPAA_INSTEAD = {
    "S3_BUCKET_POLICY_GRANTEE_CHECK": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given` (the bucket policy's only statement denies non-TLS access)",
    "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED": "test `each_route_reaches_its_provider_function_and_any_other_path_the_first` (only apigateway.amazonaws.com may invoke, and only the ingest functions)",
    "LAMBDA_INSIDE_VPC": "checkov CKV_AWS_117, suppressed with its reason: the functions reach only AWS APIs and Daily's public HTTPS API, over TLS",
    "SECRETSMANAGER_ROTATION_ENABLED_CHECK": "not automatable: a webhook signing secret is issued by the provider's console; rotation is the documented 'new,old' procedure (customer task below)",
    "DYNAMODB_AUTOSCALING_ENABLED": "not applicable: the table is on-demand (PAY_PER_REQUEST), which scales without autoscaling",
    "DYNAMODB_IN_BACKUP_PLAN": "customer task (AWS Backup plan); the table has point-in-time recovery",
    "DYNAMODB_PITR_ENABLED": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given` (PointInTimeRecoveryEnabled); checkov CKV_AWS_28",
    "API_GW_CACHE_ENABLED_AND_ENCRYPTED": "not applicable: HTTP APIs have no cache (the rule is for REST API stages)",
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED": "test `every_log_group_has_retention_and_every_function_its_own_group` (LogsKmsKeyArn on every group when given); checkov CKV_AWS_158",
    "DYNAMODB_TABLE_ENCRYPTED_KMS": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given` (KmsKeyArn); checkov CKV_AWS_119",
    "SECRETSMANAGER_USING_CMK": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given` (KmsKeyArn on every secret); checkov CKV_AWS_149",
    "API_GW_EXECUTION_LOGGING_ENABLED": "test `every_log_group_has_retention_and_every_function_its_own_group` (the HTTP API's access log; HTTP APIs have no execution log); cfn-lint-serverless ES2000",
    "CLOUDWATCH_ALARM_ACTION_CHECK": "test `every_alarm_watches_a_metric_the_code_emits_for_every_provider` (every alarm notifies AlarmTopicArn when it is given)",
    "CW_LOGGROUP_RETENTION_PERIOD_CHECK": "test `every_log_group_has_retention_and_every_function_its_own_group`; checkov CKV_AWS_66; cfn-lint-serverless WS1004",
    "DYNAMODB_THROUGHPUT_LIMIT_CHECK": "not applicable: on-demand table, no provisioned throughput",
    "LAMBDA_CONCURRENCY_CHECK": "checkov CKV_AWS_115, suppressed with its reason (API throttling and the SQS mapping's MaximumConcurrency cap the functions)",
    "LAMBDA_DLQ_CHECK": "test `processor_reports_batch_item_failures_and_the_queue_redrives_to_the_dlq`; checkov CKV_AWS_116, suppressed with its reason (no function is invoked asynchronously)",
}


# ------------------------------------------------------------------ transform


def cmd_transform(out: Path) -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    import sam_transform  # noqa: PLC0415 - needs the path above

    source = sam_transform.load_template(str(ROOT / "template.yaml"))
    (out / "templates").mkdir(parents=True, exist_ok=True)
    for name, params in SETS.items():
        result = sam_transform.translate(source, params, raw=False)
        (out / "templates" / f"{name}.json").write_text(json.dumps(result["template"], indent=1) + "\n")
        (out / f"{name}.set.json").write_text(
            json.dumps({"parameters": result["parameters"], "conditions": result["conditions"]}, indent=1)
        )
    return 0


# ------------------------------------------------------------------ guard


def guard_rules(wheel: Path) -> dict[str, str]:
    """Rule id -> its text (the `let` selections and the rule), from the package's file."""
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith("default_guard_rules.guard"))
        text = z.read(name).decode()
    # One segment per rule: the text after the previous rule's closing brace (its header and
    # `let` selections) through its own closing brace.
    rules: dict[str, str] = {}
    segment: list[str] = []
    name = None
    for line in text.splitlines(keepends=True):
        segment.append(line)
        m = re.match(r"rule (\w+)", line)
        if m:
            name = m.group(1)
        elif name and line.startswith("}"):
            rules[name] = "".join(segment)
            segment, name = [], None
    return rules


def cmd_guard(out: Path, wheel: Path) -> int:
    import guardpycfn  # noqa: PLC0415 - only in .venv-compliance

    available = guard_rules(wheel)
    selected = {rule: available[rule] for rule in HIPAA_RULES if rule in available}
    rules_text = "\n".join(selected.values())
    results = {"package": wheel.name, "available": sorted(selected), "sets": {}}
    for template in sorted((out / "templates").glob("*.json")):
        outcome = guardpycfn.validate_with_guard(template.read_text(), rules_text, verbose=True)
        if not outcome.get("success"):
            sys.exit(f"cfn-guard did not run on {template.name}: {outcome}")
        statuses: dict[str, str] = {}

        def walk(node: object) -> None:
            if isinstance(node, dict):
                container = node.get("container")
                if isinstance(container, dict) and "RuleCheck" in container:
                    check = container["RuleCheck"]
                    statuses[check.get("name")] = check.get("status")
                for child in node.get("children") or []:
                    walk(child)

        walk(outcome.get("result"))
        results["sets"][template.stem] = statuses
    (out / "guard.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


# ------------------------------------------------------------------ report


def load_yaml_template() -> dict:
    sys.path.insert(0, str(ROOT / "scripts"))
    import sam_transform  # noqa: PLC0415

    return sam_transform.load_template(str(ROOT / "template.yaml"))


def as_list(v: object) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def show(value: object) -> str:
    """A resource reference as a reader would say it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return arg
        if fn == "Fn::GetAtt":
            return ".".join(arg)
        if fn == "Fn::Sub" and isinstance(arg, str):
            return arg.replace("${", "").replace("}", "")
        if fn == "Fn::Split":
            return "each bucket of AllowedOutputBuckets (objects)"
    return json.dumps(value)


def role_table(template: dict) -> list[tuple[str, list[tuple[str, str]], list[str]]]:
    resources = template["Resources"]
    rows = []
    for name, res in resources.items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        role = res["Properties"]["Role"]["Fn::GetAtt"][0]
        props = resources[role]["Properties"]
        grants = []
        for policy in props.get("Policies", []):
            for st in as_list(policy["PolicyDocument"]["Statement"]):
                actions = ", ".join(f"`{a}`" for a in as_list(st["Action"]))
                targets = ", ".join(show(r) for r in as_list(st["Resource"]))
                grants.append((actions, targets))
        managed = [a.rsplit("/", 1)[-1] for a in props.get("ManagedPolicyArns", [])]
        rows.append((name, grants, managed))
    return rows


MANAGED_MEANING = {
    "AWSLambdaBasicExecutionRole": "write its own logs (CloudWatch Logs)",
    "AWSXrayWriteOnlyAccess": "send trace segments to X-Ray",
    "AWSLambdaSQSQueueExecutionRole": "receive and delete messages of the queue it is mapped to (Lambda's poller)",
}


def parse_tests(text: str) -> tuple[dict[str, str], str]:
    results = dict(re.findall(r"^test (\S+) \.\.\. (ok|FAILED|ignored)$", text, re.M))
    summary = re.findall(r"^test result: .*$", text, re.M)
    return results, (summary[-1] if summary else "no test result line")


def checkov_results(path: Path) -> list[dict]:
    raw = json.loads(path.read_text() or "[]")
    reports = raw if isinstance(raw, list) else [raw]
    return [r for r in reports if isinstance(r, dict) and "results" in r]


def suppressions(template: dict) -> list[tuple[str, str, str, str]]:
    """(tool, rule, resource, reason) for every suppression the template carries. The
    reasons of cfn-lint's and Guard's are the comment lines above them in template.yaml."""
    text = (ROOT / "template.yaml").read_text()
    out = []
    for name, res in template.get("Resources", {}).items():
        meta = res.get("Metadata") or {}
        for skip in (meta.get("checkov") or {}).get("skip", []):
            out.append(("checkov", skip["id"], name, skip.get("comment", "")))
        for rule in ((meta.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks", []):
            out.append(("cfn-lint", rule, name, comment_for(text, name, rule)))
        for rule in as_list((meta.get("guard") or {}).get("SuppressedRules")):
            out.append(("cfn-guard", rule, name, comment_for(text, name, rule)))
    return out


def comment_for(text: str, resource: str, rule: str) -> str:
    start = text.find(f"\n  {resource}:\n")
    end = text.find("\n    Properties:", start)
    block = text[start:end].splitlines()
    reasons = []
    for line in block:
        stripped = line.strip()
        if stripped.startswith("#"):
            reasons.append(stripped.lstrip("# "))
        elif rule in stripped:
            picked = [r for r in reasons if r.startswith(f"{rule}:")] or reasons
            return " ".join(r.removeprefix(f"{rule}: ") for r in picked)
        else:
            reasons = []
    return ""


def cmd_report(out: Path, doc: Path) -> int:
    templates = {name: json.loads((out / "templates" / f"{name}.json").read_text()) for name in SETS}
    sets = {name: json.loads((out / f"{name}.set.json").read_text()) for name in SETS}
    source = load_yaml_template()
    tests, tests_summary = parse_tests((out / "template-tests.txt").read_text())
    lint_rc = int((out / "cfn-lint.rc").read_text().strip())
    lint_text = (out / "cfn-lint.txt").read_text().strip()
    checkov = checkov_results(out / "checkov.json")
    guard = json.loads((out / "guard.json").read_text())
    failures: list[str] = []

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "template.yaml", "scripts", "tests/template.rs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    today = datetime.date.today().isoformat()

    w: list[str] = []
    p = w.append
    p("# Compliance evidence: the deployed stack, control by control")
    p("")
    p(f"Written by `make compliance` on {today} from commit `{commit}`"
      + (" (with uncommitted changes to the template or its checks)" if dirty else "")
      + ". Do not edit by hand: run `make compliance` again.")
    p("")
    p("This page is for a security or compliance reviewer who needs to know, before any "
      "protected health information (PHI) reaches the stack, that it is encrypted, "
      "least-privilege, logged and alarmed. Everything below is read off `template.yaml` "
      "after the AWS SAM transform (aws-sam-translator, the library CloudFormation's own "
      "`AWS::Serverless` transform is built on), with the conditions of each parameter set "
      "settled as CloudFormation settles them at deploy time, in the same run that held it to "
      "the rules named beside each control. No AWS account is involved.")
    p("")
    p("Parameter sets examined:")
    p("")
    for name in SETS:
        p(f"- **{name}**: {SET_TITLES[name]}")
    p("")
    p("The template tests (`tests/template.rs`, part of `make test`) go further: they assert "
      "the same properties for every combination of StoreKind (dynamodb, s3, both), "
      "KmsKeyArn, DailyApiKeySecretArn and AlarmTopicArn (24 sets), plus one set with every "
      "other option on.")
    p("")

    # ---- results summary
    p("## Results of this run")
    p("")
    failed_tests = [t for t, r in tests.items() if r != "ok"]
    if failed_tests or "ok." not in tests_summary:
        failures.append("template tests")
    p(f"- Template tests (`cargo test --test template`): {tests_summary.removeprefix('test result: ')}")
    if lint_rc != 0 or lint_text:
        failures.append("cfn-lint")
    p(f"- cfn-lint with the cfn-lint-serverless rules on template.yaml: "
      + ("no finding" if lint_rc == 0 and not lint_text else f"**findings** (exit {lint_rc}):\n\n```\n{lint_text}\n```"))
    for report in checkov:
        summary = report.get("summary", {})
        failed = report["results"].get("failed_checks", [])
        if failed:
            failures.append("checkov")
        p(f"- checkov {summary.get('checkov_version', '')} on the transformed templates: "
          f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
          f"{summary.get('skipped', 0)} skipped (each skip is listed below with its reason)")
        for f in failed:
            p(f"  - FAILED {f['check_id']} {f['check_name']} on {f['resource']} ({Path(f['file_path']).name})")
    guard_fail = [
        (s, r) for s, statuses in guard["sets"].items() for r, st in statuses.items() if st == "FAIL"
    ]
    if guard_fail:
        failures.append("cfn-guard")
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for statuses in guard["sets"].values():
        for st in statuses.values():
            counts[st] = counts.get(st, 0) + 1
    p(f"- cfn-guard with the HIPAA rule set's rules that ship on PyPI ({len(guard['available'])} "
      f"of the {len(HIPAA_RULES)} that concern this stack's resource types; from `{guard['package']}`): "
      f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} suppressed or not applicable, "
      f"over {len(guard['sets'])} parameter sets")
    for s, r in guard_fail:
        p(f"  - FAILED {r} ({s})")
    timings = out / "timings.txt"
    if timings.exists():
        p("")
        p("Time each step took in this run (a warm build; `make compliance` also installs "
          "checkov and guardpycfn into `.venv-compliance` the first time, about a minute):")
        p("")
        for line in timings.read_text().splitlines():
            step, _, ms = line.rpartition(" ")
            p(f"- {step}: {int(ms) / 1000:.1f} s")
    p("")

    # ---- controls
    default, keyed = templates["aws-managed-keys"], templates["customer-keys"]
    p("## Encryption at rest")
    p("")
    p("| resource | without KmsKeyArn | with KmsKeyArn | held by |")
    p("|---|---|---|---|")

    def enc(t: dict, name: str) -> str:
        r = t["Resources"][name]
        kind, props = r["Type"], r["Properties"]
        if kind == "AWS::S3::Bucket":
            d = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            return "SSE-S3 (AES-256, S3-managed keys)" if d["SSEAlgorithm"] == "AES256" else f"SSE-KMS with the customer key, S3 Bucket Key on"
        if kind == "AWS::DynamoDB::Table":
            s = props["SSESpecification"]
            return "DynamoDB encryption at rest (AWS-owned key)" if "KMSMasterKeyId" not in s else "KMS with the customer key"
        if kind == "AWS::SQS::Queue":
            return "SSE-SQS (SQS-managed keys)" if props.get("SqsManagedSseEnabled") else "SSE-KMS with the customer key"
        if kind == "AWS::SecretsManager::Secret":
            return "Secrets Manager's key (aws/secretsmanager)" if "KmsKeyId" not in props else "the customer key"
        if kind == "AWS::Logs::LogGroup":
            return "CloudWatch Logs' own encryption" if "KmsKeyId" not in props else "LogsKmsKeyArn (customer key)"
        return "?"

    held = {
        "AWS::S3::Bucket": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given`; checkov CKV_AWS_19; Guard S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED, S3_DEFAULT_ENCRYPTION_KMS",
        "AWS::DynamoDB::Table": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given`; checkov CKV_AWS_119 is suppressed (it accepts only a customer key)",
        "AWS::SQS::Queue": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given`; checkov CKV_AWS_27 is suppressed (it ignores SSE-SQS)",
        "AWS::SecretsManager::Secret": "test `storage_and_queues_are_encrypted_with_the_customer_key_when_given`; checkov CKV_AWS_149 is suppressed (it accepts only a customer key)",
        "AWS::Logs::LogGroup": "test `every_log_group_has_retention_and_every_function_its_own_group`; checkov CKV_AWS_158 is suppressed (it accepts only a customer key)",
    }
    for name, res in default["Resources"].items():
        if res["Type"] in held:
            p(f"| {name} ({res['Type']}) | {enc(default, name)} | {enc(keyed, name)} | {held[res['Type']]} |")
    p("")
    p("The key is one customer-managed key (KmsKeyArn) for the data bucket, the records table, "
      "both queues and the signing secrets; every function gets `kms:Decrypt` and "
      "`kms:GenerateDataKey` on that key alone. Log groups take their own key (LogsKmsKeyArn), "
      "whose key policy must allow the CloudWatch Logs service.")
    p("")

    p("## Encryption in transit")
    p("")
    p("- The data bucket's policy denies every S3 action on the bucket and its objects to any "
      "request without TLS (`aws:SecureTransport` false). Held by test "
      "`storage_and_queues_are_encrypted_with_the_customer_key_when_given`, Guard "
      "S3_BUCKET_SSL_REQUESTS_ONLY.")
    p("- The webhook endpoints are API Gateway HTTP API `execute-api` URLs, which answer HTTPS "
      "only (TLS 1.2); the outputs give `https://` URLs.")
    p("- The functions call AWS services (S3, SQS, DynamoDB, Secrets Manager, KMS) through the AWS "
      "SDK over HTTPS, and fetch Daily's outputs over HTTPS only (a plain-http link is refused "
      "unless it points at a loopback stand-in used in tests).")
    p("")

    p("## Least privilege, per function")
    p("")
    p("Each function has a role of its own. Below: every permission each role has in the "
      "customer-keys set (the superset: without KmsKeyArn the `kms:` grant is absent, without "
      "DailyApiKeySecretArn the processor reads no secret, without AllowedOutputBuckets it reads "
      "no output bucket). Held by tests `each_ingest_role_reads_only_its_own_secret_writes_archive_and_queues` "
      "and `processor_role_reads_only_allow_listed_buckets_and_the_daily_key` (exact statement "
      "lists, no wildcard action, no `Resource: *`, for all 25 parameter sets), checkov's IAM "
      "policy checks (CKV_AWS_107 to CKV_AWS_111: credentials exposure, data exfiltration, "
      "permissions management, privilege escalation, write access without constraints) and "
      "Guard's IAM rules.")
    p("")
    for function, grants, managed in role_table(keyed):
        p(f"**{function}**")
        p("")
        p("| actions | on |")
        p("|---|---|")
        for actions, targets in grants:
            p(f"| {actions} | {targets} |")
        for m in managed:
            p(f"| AWS managed policy `{m}` | {MANAGED_MEANING.get(m, '')} |")
        p("")
    p("An ingest function can read only its own provider's signing secret, write and read "
      "only under `archive/` of the data bucket, list the bucket (so a missing object is a "
      "404, not a 403) and send to the delivery queue. It cannot read records, the table, "
      "another provider's secret or the queue. Only API Gateway may invoke the ingest "
      "functions; only the SQS mapping invokes the processor.")
    p("")

    p("## Logging and retention")
    p("")
    retention = sets["aws-managed-keys"]["parameters"]["LogRetentionInDays"]
    groups = [n for n, r in default["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"]
    p(f"- Every function logs as JSON to a log group of its own; the webhook API writes an "
      f"access log to its own group. Each of the {len(groups)} groups ({', '.join(groups)}) keeps "
      f"logs for LogRetentionInDays (default {retention} days). Held by test "
      "`every_log_group_has_retention_and_every_function_its_own_group`, checkov CKV_AWS_66, "
      "cfn-lint-serverless WS1004 / ES2000.")
    p("- The API access log records request id, source IP, time, route, status, response length, "
      "integration latency and error: no header, no body (they may carry PHI or signatures). "
      "The test asserts the format names no request header or body.")
    p("- The stack's own API calls (who changed what) are in the account's CloudTrail; object-level "
      "reads and writes of the bucket need CloudTrail S3 data events (customer task below).")
    p("")

    p("## Tracing")
    p("")
    p("X-Ray tracing is on for every function by default (Tracing = Active; PassThrough traces "
      "only requests that arrive sampled). Held by test "
      "`every_provider_has_its_function_secret_log_group_route_and_outputs` (TracingConfig of "
      "each function follows the parameter). HTTP APIs have no X-Ray "
      "tracing of their own.")
    p("")

    p("## Alarms, and what each catches")
    p("")
    p("| alarm | fires when | watches |")
    p("|---|---|---|")
    for name, res in default["Resources"].items():
        if res["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        if "MetricName" in props:
            watches = f"{props['Namespace']} {props['MetricName']}"
        else:
            stats = [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]
            watches = f"{stats[0]['MetricName']} (EMF, summed over {len(stats)} providers)"
        p(f"| {name} | {props['AlarmDescription'].removeprefix('scribehook - ')} | {watches} |")
    p("")
    p("Every alarm notifies AlarmTopicArn (alarm and OK) when it is given; without it the "
      "alarms only show on the dashboard. Held by test "
      "`every_alarm_watches_a_metric_the_code_emits_for_every_provider`, which also checks that "
      "each metric an alarm or the dashboard names is one the code emits (the code's metric "
      "list) with the dimensions the code gives it, for every provider of the code's list.")
    p("")

    p("## PHI in logs and metrics")
    p("")
    p("No answer, log line, metric or stored error text quotes a value from a delivery: parse "
      "errors name the JSON path and the expected type; transcript, note and summary text never "
      "appear; metrics carry only the service and provider names. Held by the code's tests: "
      "`parse_errors_name_the_path_and_type_never_the_value` (tests/normalize.rs) and the "
      "`never_quotes` cases of tests/adversarial.rs. The API access log format leaves out "
      "headers and bodies (see above).")
    p("")

    p("## Deletion and retention of PHI")
    p("")
    p("- A deletion event or `scribehook purge` erases a subject's content from the records, "
      "its archived deliveries and every version of those objects (PurgeOnDelete, default "
      "true). Held by tests/aws_purge.rs (`a_deletion_last_leaves_no_content_in_any_store_or_version`).")
    p("- ArchiveRetentionDays (default 0 = keep) expires archived raw deliveries and their old "
      "versions; old versions of rewritten records expire after 30 days. Held by test "
      "`storage_and_queues_are_encrypted_with_the_customer_key_when_given` (the lifecycle rule "
      "exists exactly when asked, on `archive/raw/` only).")
    p("- The data bucket and the records table are kept when the stack is deleted "
      "(DeletionPolicy Retain): deleting the stack does not delete PHI; the customer empties "
      "and deletes them under its own retention policy.")
    p("- DynamoDB point-in-time recovery keeps up to 35 days of table history that no purge "
      "reaches; a purge is complete in the recoverable past only after that window.")
    p("")

    p("## Backups and recovery")
    p("")
    p("- Records table: point-in-time recovery on (held by the encryption test above; checkov CKV_AWS_28).")
    p("- Data bucket: versioning on (Guard S3_BUCKET_VERSIONING_ENABLED; checkov CKV_AWS_21); "
      "no cross-region replication (suppressed with its reason: a replica is PHI that purges "
      "and retention would not reach).")
    p("- Failed deliveries: after 5 attempts a message waits 14 days in the dead-letter queue "
      "(alarmed); every verified delivery is also archived, so `scribehook replay` rebuilds the "
      "records. Held by test `processor_reports_batch_item_failures_and_the_queue_redrives_to_the_dlq`.")
    p("")

    p("## What the customer must still do")
    p("")
    p("- **Business Associate Addendum** with AWS (AWS Artifact), and use only HIPAA-eligible "
      "services: every service this stack uses (Lambda, API Gateway, S3, DynamoDB, SQS, Secrets "
      "Manager, KMS, CloudWatch, X-Ray) is on AWS's HIPAA-eligible list; check it again for yours.")
    p("- **A BAA with each transcription provider** whose webhooks you receive, and the provider "
      "accounts themselves: register each `<Provider>WebhookUrl` output and store the signing "
      "secret the provider shows in `<Provider>SecretArn`; rotate by storing 'new,old', "
      "switching the provider, then storing the new one alone.")
    p("- **CloudTrail**: an organization or account trail with S3 data events for the data "
      "bucket (object-level reads, writes, deletes), kept encrypted and validated.")
    p("- **KMS key policies**: for KmsKeyArn, allow the stack's function roles (they are granted "
      "`kms:Decrypt` / `kms:GenerateDataKey` in IAM, and the key policy must not deny them) and the "
      "deploying principal; for LogsKmsKeyArn, allow `logs.<region>.amazonaws.com`. Enable key rotation.")
    p("- **AlarmTopicArn**: an SNS topic with subscribers who act on the alarms (encrypt the topic "
      "with KMS if you name patients in subscriptions: the alarms carry no PHI).")
    p("- **Backups**: an AWS Backup plan for the records table if your policy requires backups "
      "beyond point-in-time recovery's 35 days.")
    p("- **Account guard rails**: S3 Block Public Access at the account level, who may read the "
      "log groups and the bucket (IAM), and GuardDuty / Security Hub as your programme requires.")
    p("- **Optional JWT authorizer**: where a provider's facts allow it (Nabla Connect), set its "
      "`<Provider>JwtIssuer` and `<Provider>JwtAudience` to put its route behind API Gateway's JWT "
      "authorizer as well as the signature check.")
    p("")

    # ---- suppressions
    p("## Every finding suppressed, with its reason")
    p("")
    p("Each suppression sits in the template beside the resource it concerns, with its reason. "
      "In the transformed template a function's suppressions also cover the role SAM makes for it.")
    p("")
    p("| tool | rule | resources | reason |")
    p("|---|---|---|---|")
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for tool, rule, resource, reason in suppressions(source):
        grouped.setdefault((tool, rule, reason), []).append(resource)
    for (tool, rule, reason), resources in sorted(grouped.items()):
        p(f"| {tool} | {rule} | {', '.join(resources)} | {reason} |")
    p("")

    # ---- guard detail
    p("## HIPAA rule set (AWS Guard rules registry, `hipaa-security`)")
    p("")
    p(f"The registry's rules as `{guard['package']}` ships them (PyPI), run with cfn-guard's "
      "engine on each transformed template. Rules of the set that this package does not ship "
      "are listed with what holds the same control here.")
    p("")
    p("| rule | HIPAA sections | " + " | ".join(guard["sets"]) + " |")
    p("|---|---|" + "---|" * len(guard["sets"]))
    suppressed = {rule for tool, rule, _, _ in suppressions(source) if tool == "cfn-guard"}

    def cell(rule: str, status: str) -> str:
        if status == "SKIP":
            return "suppressed (reason above)" if rule in suppressed else "not applicable"
        return "pass" if status == "PASS" else f"**{status}**"

    for rule, sections in HIPAA_RULES.items():
        if rule in guard["available"]:
            cells = [cell(rule, guard["sets"][s].get(rule, "not run")) for s in guard["sets"]]
            p(f"| {rule} | {sections} | " + " | ".join(cells) + " |")
    p("")
    p("| rule not shipped offline | HIPAA sections | held instead by |")
    p("|---|---|---|")
    for rule, sections in HIPAA_RULES.items():
        if rule not in guard["available"]:
            p(f"| {rule} | {sections} | {HIPAA_INSTEAD.get(rule, 'not checked')} |")
    p("")

    # ---- checkov detail
    passed: dict[str, tuple[str, set[str]]] = {}
    skipped: set[str] = set()
    for report in checkov:
        for c in report["results"].get("passed_checks", []):
            passed.setdefault(c["check_id"], (c["check_name"], set()))[1].add(c["resource"].split(".", 1)[1])
        for c in report["results"].get("skipped_checks", []):
            skipped.add(c["check_id"])
    p("## checkov checks passed")
    p("")
    p("| check | what it asks | resources |")
    p("|---|---|---|")
    for check, (name, resources) in sorted(passed.items(), key=lambda kv: (len(kv[0]), kv[0])):
        p(f"| {check} | {name} | {len(resources)} |")
    p("")

    # ---- tests
    p("## The template tests of this run")
    p("")
    for name, result in sorted(tests.items()):
        p(f"- `{name}`: {result}")
    p("")
    text = "\n".join(w) + "\n"
    # Every checkov check the page cites ran in this run (passed, or skipped with a reason).
    for cited in sorted(set(re.findall(r"CKV2?_AWS_\d+", text))):
        if cited not in passed and cited not in skipped:
            failures.append(f"the page cites {cited}, which did not run")
    for rule in re.findall(r"Guard ([A-Z0-9_]+)", text):
        if rule not in guard["available"]:
            failures.append(f"the page cites Guard rule {rule}, which did not run")
    doc.write_text(text)
    if failures:
        print(f"compliance: failed checks: {', '.join(failures)} (see {doc})", file=sys.stderr)
        return 1
    print(f"compliance: every check passed; {doc} written")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["transform", "guard", "report"])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rules-wheel", type=Path)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "compliance.md")
    args = parser.parse_args()
    if args.step == "transform":
        return cmd_transform(args.out)
    if args.step == "guard":
        if not args.rules_wheel:
            sys.exit("guard needs --rules-wheel")
        return cmd_guard(args.out, args.rules_wheel)
    return cmd_report(args.out, args.doc)


if __name__ == "__main__":
    sys.exit(main())
