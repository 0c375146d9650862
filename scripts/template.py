#!/usr/bin/env python3
"""Writes the per-provider parts of template.yaml from the provider list.

The list is what `scribehook providers` prints: one JSON object per line with `name`,
`title`, `route`, `secrets_env`, `secrets_arn_env`, `tolerance_env`,
`tolerance_default_secs`, `key_encoding`, `signature_headers`, `sample_secret` and,
optionally, `jwt_authorizer` (true: the provider's route can be put behind the HTTP API's
own JWT authorizer with two template parameters; absent or false: never).

template.yaml holds marked regions:

    # BEGIN GENERATED <region> (make template; edit scripts/template.py, not this block)
    ...
    # END GENERATED <region>

and this script rewrites the text between each pair, leaving everything else alone. Every
per-provider part of the template (parameters, conditions, the API, the ingest functions,
their secrets and log groups, the per-provider alarms, the dashboard, the outputs) is in a
region, so adding a provider to the code and running `make template` is all it takes.

    scripts/template.py --providers FILE [--template template.yaml] [--out PATH] [--check]

FILE is the list (`-` for standard input). Without --out the template is rewritten in place;
--check writes nothing and exits 1, with a diff, when the template differs from what the
list gives. Standard library only, so it runs before any virtualenv exists.

CloudFormation logical ids come from `title` without spaces (`Nabla Connect` ->
`NablaConnectIngestFunction`); the four original providers keep the ids and parameter
names their deployed stacks already have.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

BEGIN = "# BEGIN GENERATED {region} (make template; edit scripts/template.py, not this block)"
END = "# END GENERATED {region}"
REGIONS = [
    "rules",
    "parameters",
    "conditions",
    "api",
    "ingest",
    "provider-alarms",
    "dashboard",
    "outputs",
]


@dataclass
class Provider:
    name: str
    title: str
    route: str
    secrets_env: str
    secrets_arn_env: str
    tolerance_env: str
    tolerance_default_secs: int | None
    key_encoding: str
    jwt_authorizer: bool

    @property
    def id(self) -> str:
        """The CloudFormation logical-id stem: the title without spaces."""
        return re.sub(r"[^A-Za-z0-9]", "", self.title)

    @property
    def metric_id(self) -> str:
        """An id for a metric-math query (lowercase letter first, then [A-Za-z0-9_])."""
        return re.sub(r"[^a-z0-9_]", "_", self.name.lower())

    @property
    def label(self) -> str:
        return self.name


def load(lines: list[str]) -> list[Provider]:
    providers = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            fact = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"provider list line {number} is not JSON: {e}")
        missing = [
            key
            for key in (
                "name",
                "title",
                "route",
                "secrets_env",
                "secrets_arn_env",
                "tolerance_env",
                "tolerance_default_secs",
                "key_encoding",
            )
            if key not in fact
        ]
        if missing:
            sys.exit(f"provider list line {number} lacks {', '.join(missing)}")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", fact["name"]):
            sys.exit(f"provider list line {number}: name must be lowercase letters, digits and '-'")
        default = fact["tolerance_default_secs"]
        if default is not None and (not isinstance(default, int) or default < 1):
            sys.exit(f"provider list line {number}: tolerance_default_secs must be null or a positive integer")
        if fact["key_encoding"] not in ("base64", "utf8"):
            sys.exit(f"provider list line {number}: key_encoding must be base64 or utf8")
        providers.append(
            Provider(
                name=fact["name"],
                title=fact["title"],
                route=fact["route"],
                secrets_env=fact["secrets_env"],
                secrets_arn_env=fact["secrets_arn_env"],
                tolerance_env=fact["tolerance_env"],
                tolerance_default_secs=default,
                key_encoding=fact["key_encoding"],
                jwt_authorizer=bool(fact.get("jwt_authorizer", False)),
            )
        )
    if not providers:
        sys.exit("the provider list is empty")
    ids = [p.id for p in providers]
    if len(set(ids)) != len(ids):
        sys.exit("two providers' titles give the same logical id")
    return providers


# ---------------------------------------------------------------------------- regions


def rules(providers: list[Provider]) -> str:
    jwt = [p for p in providers if p.jwt_authorizer]
    if not jwt:
        return ""
    out = [
        "# A JWT authorizer needs both an issuer and an audience: setting only one is refused",
        "# before anything is created, instead of leaving the route open without a word.",
        "Rules:",
    ]
    for p in jwt:
        iss, aud = f"{p.id}JwtIssuer", f"{p.id}JwtAudience"
        out += [
            f"  {p.id}JwtIssuerAndAudienceTogether:",
            "    Assertions:",
            "      - Assert: !Or",
            f'          - !And [!Equals [!Ref {iss}, ""], !Equals [!Ref {aud}, ""]]',
            f'          - !And [!Not [!Equals [!Ref {iss}, ""]], !Not [!Equals [!Ref {aud}, ""]]]',
            f"        AssertDescription: Set both {iss} and {aud}, or neither.",
        ]
    return "\n".join(out) + "\n"


def parameters(providers: list[Provider]) -> str:
    out = []
    for p in providers:
        if p.tolerance_default_secs is None:
            fallback = "Empty - SignatureToleranceSeconds applies."
        else:
            fallback = f"Empty - {p.title}'s own default of {p.tolerance_default_secs} s applies."
        out += [
            f"  {p.id}SignatureToleranceSeconds:",
            "    Type: String",
            '    Default: ""',
            '    AllowedPattern: "^([1-9][0-9]*)?$"',
            f"    Description: Optional - overrides SignatureToleranceSeconds for {p.title} only ({p.tolerance_env}). {fallback}",
        ]
    for p in providers:
        if not p.jwt_authorizer:
            continue
        out += [
            f"  {p.id}JwtIssuer:",
            "    Type: String",
            '    Default: ""',
            '    AllowedPattern: "^(https://.+)?$"',
            f"    Description: Optional - issuer URL (iss claim) of the OAuth tokens {p.title} sends; with {p.id}JwtAudience, {p.route} is behind the API's JWT authorizer (the signature is still verified). Empty - no JWT authorizer.",
            f"  {p.id}JwtAudience:",
            "    Type: String",
            '    Default: ""',
            f"    Description: Optional - audience (aud claim) the tokens {p.title} sends must carry; set together with {p.id}JwtIssuer.",
        ]
    return "\n".join(out) + "\n"


def conditions(providers: list[Provider]) -> str:
    out = [
        f'  Has{p.id}SignatureTolerance: !Not [!Equals [!Ref {p.id}SignatureToleranceSeconds, ""]]'
        for p in providers
    ]
    out += [
        f'  Has{p.id}Jwt: !Not [!Equals [!Ref {p.id}JwtIssuer, ""]]'
        for p in providers
        if p.jwt_authorizer
    ]
    return "\n".join(out) + "\n"


def api(providers: list[Provider]) -> str:
    out = [
        "  WebhookApi:",
        "    Type: AWS::Serverless::HttpApi",
        "    Properties:",
        "      # HTTP APIs have no X-Ray tracing (only REST APIs do); the functions are traced.",
        f"      Description: scribehook webhook endpoints, one route per provider; any other path reaches the {providers[0].title} ingest function ($default route), which answers 404 unknown_provider",
        "      FailOnWarnings: true",
        "      # One JSON line per request: who called which route, the answer and its latency.",
        "      # No header or body is logged (they may carry PHI or signatures).",
        "      AccessLogSettings:",
        "        DestinationArn: !GetAtt WebhookApiAccessLogGroup.Arn",
        "        Format: '{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"requestTime\":\"$context.requestTime\",\"routeKey\":\"$context.routeKey\",\"status\":\"$context.status\",\"protocol\":\"$context.protocol\",\"responseLength\":\"$context.responseLength\",\"integrationLatency\":\"$context.integrationLatency\",\"integrationError\":\"$context.integrationErrorMessage\",\"authorizerError\":\"$context.authorizer.error\"}'",
        "      # Caps what a flood (or a provider's retry storm) can cost; deliveries above it get",
        "      # 429 and are retried by the providers.",
        "      DefaultRouteSettings:",
        "        ThrottlingBurstLimit: !Ref ApiThrottlingBurstLimit",
        "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit",
    ]
    jwt = [p for p in providers if p.jwt_authorizer]
    if jwt:
        # The routes themselves come from the functions' events; this body only adds, per
        # provider that asks for it, the JWT authorizer and its use on the provider's route,
        # each behind the provider's condition (CloudFormation resolves Fn::If in the body).
        out += [
            "      # The functions' events add every route and integration to this body; it only",
            "      # carries the optional JWT authorizers (each present only when its issuer is set).",
            "      DefinitionBody:",
            '        openapi: "3.0.1"',
            "        info:",
            '          version: "1.0"',
            "          title: !Ref AWS::StackName",
            "        paths:",
        ]
        for p in jwt:
            out += [
                f"          {p.route}:",
                "            x-amazon-apigateway-any-method:",
                f"              security: !If [Has{p.id}Jwt, [{{{p.id}Jwt: []}}], !Ref AWS::NoValue]",
            ]
        out += ["        components:", "          securitySchemes:"]
        for p in jwt:
            out += [
                f"            {p.id}Jwt: !If",
                f"              - Has{p.id}Jwt",
                "              - type: oauth2",
                "                x-amazon-apigateway-authorizer:",
                "                  type: jwt",
                '                  identitySource: "$request.header.Authorization"',
                "                  jwtConfiguration:",
                f"                    issuer: !Ref {p.id}JwtIssuer",
                f"                    audience: [!Ref {p.id}JwtAudience]",
                "              - !Ref AWS::NoValue",
            ]
    out += [
        "",
        "  WebhookApiAccessLogGroup:",
        "    Type: AWS::Logs::LogGroup",
        "    DeletionPolicy: Delete",
        "    UpdateReplacePolicy: Delete",
        "    Metadata:",
        "      checkov:",
        "        skip:",
        "          - id: CKV_AWS_158",
        "            comment: LogsKmsKeyArn encrypts it when given; else CloudWatch Logs' own encryption (no PHI is logged).",
        "    Properties:",
        "      LogGroupName: !Sub /aws/vendedlogs/${AWS::StackName}/webhook-api",
        "      RetentionInDays: !Ref LogRetentionInDays",
        "      KmsKeyId: !If [HasLogsKmsKey, !Ref LogsKmsKeyArn, !Ref AWS::NoValue]",
    ]
    return "\n".join(out) + "\n"


def ingest(providers: list[Provider]) -> str:
    out: list[str] = []
    for index, p in enumerate(providers):
        out += [
            f"  {p.id}IngestFunction:",
            "    Type: AWS::Serverless::Function",
            "    Metadata:",
            "      BuildMethod: rust-cargolambda",
            "      BuildProperties:",
            "        Binary: ingest",
            "      cfn-lint:",
            "        config:",
            "          # WS1000: Tracing is set in Globals from the Tracing parameter (default Active).",
            "          # WS1004: the log group is the function's own LoggingConfig.LogGroup, with retention.",
            "          ignore_checks: [WS1000, WS1004]",
            "      checkov:",
            "        skip:",
            "          - id: CKV_AWS_115",
            "            comment: Capped by the API's throttling; reserving concurrency would take from the account's pool.",
            "          - id: CKV_AWS_116",
            "            comment: Invoked synchronously by API Gateway; a failure is the provider's retry, so no DLQ.",
            "          - id: CKV_AWS_117",
            "            comment: Reaches only AWS APIs (S3, SQS, Secrets Manager) over TLS; no VPC resource to reach.",
            "          - id: CKV_AWS_173",
            "            comment: Environment holds names and ARNs, no secret; Lambda encrypts it at rest.",
            "      guard:",
            "        # The role's statements are this function's alone, scoped to this stack's resources.",
            "        SuppressedRules: [IAM_NO_INLINE_POLICY_CHECK]",
            "    Properties:",
            f"      Description: scribehook ingest for {p.title} webhooks",
            "      MemorySize: !Ref IngestMemorySize",
            "      # Above IngestDeadlineMs (at most 9 s): the ingest answers 503 before Lambda times out.",
            "      Timeout: 10",
            "      LoggingConfig:",
            f"        LogGroup: !Ref {p.id}IngestLogGroup",
            "      Environment:",
            "        Variables:",
            f"          PROVIDERS: {p.name}",
            f"          {p.secrets_arn_env}: !Ref {p.id}WebhookSecret",
            "          # Empty in AWS; `sam local invoke --env-vars events/env.json` sets it.",
            f'          {p.secrets_env}: ""',
            "          QUEUE_URL: !Ref DeliveryQueue",
            "          SIGNATURE_TOLERANCE_SECONDS: !Ref SignatureToleranceSeconds",
            f"          {p.tolerance_env}: !If [Has{p.id}SignatureTolerance, !Ref {p.id}SignatureToleranceSeconds, !Ref AWS::NoValue]",
            "          MAX_BODY_BYTES: !Ref MaxBodyBytes",
            "          INGEST_DEADLINE_MS: !Ref IngestDeadlineMs",
            "      Policies:",
            '        - Version: "2012-10-17"',
            "          Statement:",
            "            - Sid: ReadOwnSecret",
            "              Effect: Allow",
            "              Action: secretsmanager:GetSecretValue",
            f"              Resource: !Ref {p.id}WebhookSecret",
            "            - Sid: ArchiveObjects",
            "              Effect: Allow",
            "              Action: [s3:PutObject, s3:GetObject]",
            "              Resource: !Sub ${DataBucket.Arn}/archive/*",
            "            - Sid: MissingObjectsAre404",
            "              Effect: Allow",
            "              Action: s3:ListBucket",
            "              Resource: !GetAtt DataBucket.Arn",
            "            - Sid: QueueDeliveries",
            "              Effect: Allow",
            "              Action: sqs:SendMessage",
            "              Resource: !GetAtt DeliveryQueue.Arn",
            "            - !If",
            "              - HasKmsKey",
            "              - Sid: UseDataKey",
            "                Effect: Allow",
            "                Action: [kms:Decrypt, kms:GenerateDataKey]",
            "                Resource: !Ref KmsKeyArn",
            "              - !Ref AWS::NoValue",
            "      Events:",
            "        Webhook:",
            "          Type: HttpApi",
            "          Properties:",
            "            ApiId: !Ref WebhookApi",
            "            # Providers POST; ANY lets the function answer other methods with 405",
            "            # method_not_allowed (a POST-only route would make API Gateway answer 404).",
            "            Method: ANY",
            f"            Path: {p.route}",
        ]
        if index == 0:
            out += [
                "        # No Path and no Method: the API's $default route. Every path that is not a",
                "        # provider's route (/webhooks/zoom, /, ...) comes here, and the ingest answers",
                "        # the documented JSON 404 unknown_provider instead of API Gateway's own 404.",
                "        UnknownRoutes:",
                "          Type: HttpApi",
                "          Properties:",
                "            ApiId: !Ref WebhookApi",
            ]
        out.append("")
    out += [
        "  # ---------------------------------------------------------------- signing secrets",
        "  # A random initial value (not a fixed placeholder): most providers accept any text as a",
        "  # key, so a well-known placeholder would let anyone sign deliveries until it is replaced.",
        "",
    ]
    for p in providers:
        shown = "base64 text" if p.key_encoding == "base64" else "the text shown"
        out += [
            f"  {p.id}WebhookSecret:",
            "    Type: AWS::SecretsManager::Secret",
            "    DeletionPolicy: Delete",
            "    UpdateReplacePolicy: Delete",
            "    Metadata:",
            "      checkov:",
            "        skip:",
            "          - id: CKV_AWS_149",
            "            comment: KmsKeyArn is used when given (Fn::If); the default is Secrets Manager's own key.",
            "    Properties:",
            f"      Description: scribehook - {p.title} webhook signing secret(s), exactly as {p.title} shows them ({shown}); comma-separated or a JSON array to rotate. Replace the random initial value.",
            "      KmsKeyId: !If [HasKmsKey, !Ref KmsKeyArn, !Ref AWS::NoValue]",
            "      GenerateSecretString:",
            "        PasswordLength: 48",
            "        ExcludePunctuation: true",
            "",
        ]
    out += [
        "  # ---------------------------------------------------------------- ingest logs",
        "",
    ]
    for p in providers:
        out += [
            f"  {p.id}IngestLogGroup:",
            "    Type: AWS::Logs::LogGroup",
            "    DeletionPolicy: Delete",
            "    UpdateReplacePolicy: Delete",
            "    Metadata:",
            "      checkov:",
            "        skip:",
            "          - id: CKV_AWS_158",
            "            comment: LogsKmsKeyArn encrypts it when given; else CloudWatch Logs' own encryption (no PHI is logged).",
            "    Properties:",
            f"      LogGroupName: !Sub /aws/lambda/${{AWS::StackName}}/{p.name}-ingest",
            "      RetentionInDays: !Ref LogRetentionInDays",
            "      KmsKeyId: !If [HasLogsKmsKey, !Ref LogsKmsKeyArn, !Ref AWS::NoValue]",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


def provider_alarm(
    providers: list[Provider], name: str, metric: str, description: str, threshold: int
) -> list[str]:
    ids = ", ".join(p.metric_id for p in providers)
    out = [
        f"  {name}:",
        "    Type: AWS::CloudWatch::Alarm",
        "    Properties:",
        f"      AlarmDescription: {description}",
        "      Metrics:",
        f"        - Id: {metric.lower()}",
        f"          Label: {metric}, all providers",
        f"          Expression: SUM([{ids}])",
        "          ReturnData: true",
    ]
    for p in providers:
        out += [
            f"        - Id: {p.metric_id}",
            "          ReturnData: false",
            "          MetricStat:",
            "            Metric:",
            "              Namespace: !Ref MetricsNamespace",
            f"              MetricName: {metric}",
            "              Dimensions:",
            "                - Name: service",
            "                  Value: !Ref AWS::StackName",
            "                - Name: provider",
            f"                  Value: {p.name}",
            "            Period: 300",
            "            Stat: Sum",
        ]
    out += [
        "      EvaluationPeriods: 1",
        f"      Threshold: {threshold}",
        "      ComparisonOperator: GreaterThanThreshold",
        "      TreatMissingData: notBreaching",
        "      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]",
        "      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]",
    ]
    return out


def provider_alarms(providers: list[Provider]) -> str:
    if len(providers) > 9:
        # An alarm's metric math takes at most 10 queries: the sum and one per provider.
        sys.exit("more than 9 providers: the per-provider alarms need another shape")
    out = provider_alarm(
        providers,
        "QuarantinedAlarm",
        "Quarantined",
        "scribehook - the processor quarantined a delivery it can never process (unparseable archived delivery, a value the store refuses); its event item / file says why. Fix, then `scribehook replay`.",
        0,
    )
    out.append("")
    out += provider_alarm(
        providers,
        "RejectedDeliveriesAlarm",
        "Rejected",
        "scribehook - more than 20 webhook deliveries rejected in 5 minutes (wrong or rotated secret, clock skew, or someone probing the endpoints).",
        20,
    )
    out.append("")
    out += provider_alarm(
        providers,
        "NotificationsFailedAlarm",
        "NotificationsFailed",
        "scribehook - a record notification was not confirmed by EventBridge (NotifyBus); the message is retried and nothing is lost. If it persists, check the bus and the processor's events:PutEvents permission, then `scribehook notify --pending`.",
        0,
    )
    out.append("")
    out += provider_alarm(
        providers,
        "OutputBucketErrorsAlarm",
        "OutputBucketErrors",
        "scribehook - the processor could not read a provider output from a bucket in AllowedOutputBuckets (missing bucket, AccessDenied, a KMS key it may not use). The operator's to fix - the messages are retried and end in the dead-letter queue; redrive them once fixed.",
        0,
    )
    return "\n".join(out) + "\n"


ALARMS = [
    "DeadLetterQueueAlarm",
    "QuarantinedAlarm",
    "RejectedDeliveriesAlarm",
    "NotificationsFailedAlarm",
    "OutputBucketErrorsAlarm",
    "IngestServerErrorsAlarm",
    "ProcessorErrorsAlarm",
]

# Per-provider EMF figures on the dashboard: (metric, title, statistics).
FIGURES = [
    ("Accepted", "Accepted deliveries per provider"),
    ("Duplicate", "Duplicates (redeliveries) per provider"),
    ("Conflict", "Conflicts (same id, other content) per provider"),
    ("Rejected", "Rejected deliveries (4xx) per provider"),
    ("Processed", "Processed events per provider"),
    ("Quarantined", "Quarantined events per provider"),
    ("Purged", "Purged subjects per provider"),
    ("NotificationsFailed", "Record notifications not confirmed per provider"),
]


def dashboard(providers: list[Provider]) -> str:
    def search(metric: str, stat: str) -> str:
        return (
            "SEARCH('{\\\"${MetricsNamespace}\\\",provider,service} "
            f'MetricName=\\"{metric}\\" service=\\"${{AWS::StackName}}\\"\', \'{stat}\', 300)'
        )

    def metric_widget(x: int, y: int, width: int, title: str, metrics: str, period: int = 300) -> str:
        return (
            f'{{"type": "metric", "x": {x}, "y": {y}, "width": {width}, "height": 6, "properties": '
            f'{{"title": "{title}", "region": "${{AWS::Region}}", "view": "timeSeries", "stacked": false, '
            f'"period": {period}, "metrics": {metrics}}}}}'
        )

    widgets = [
        '{"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "# scribehook `${AWS::StackName}`\\nDeliveries per provider from the functions\' EMF metrics (namespace `${MetricsNamespace}`, dimensions service and provider; 5-minute sums), then the queues, the webhook API and the functions."}}'
    ]
    cells = []
    for metric, title in FIGURES:
        cells.append(
            (
                title,
                f'[[{{"expression": "{search(metric, "Sum")}", "label": "${{!PROP(\'Dim.provider\')}}", "id": "{metric.lower()}"}}]]',
            )
        )
    cells.append(
        (
            "End-to-end latency (ms, received to recorded) per provider",
            f'[[{{"expression": "{search("EndToEndLatency", "p50")}", "label": "p50 ${{!PROP(\'Dim.provider\')}}", "id": "p50"}}], '
            f'[{{"expression": "{search("EndToEndLatency", "p99")}", "label": "p99 ${{!PROP(\'Dim.provider\')}}", "id": "p99"}}]]',
        )
    )
    cells.append(
        (
            "Cold starts",
            '[[{"id": "coldstart", "expression": "SEARCH(\'Namespace=\\"${MetricsNamespace}\\" MetricName=\\"ColdStart\\" service=\\"${AWS::StackName}\\"\', \'Sum\', 300)", "label": "${!PROP(\'Dim.function_name\')}"}]]',
        )
    )
    for index, (title, metrics) in enumerate(cells):
        widgets.append(metric_widget(8 * (index % 3), 2 + 6 * (index // 3), 8, title, metrics))
    y = 2 + 6 * ((len(cells) + 2) // 3)
    widgets.append(
        metric_widget(
            0,
            y,
            8,
            "Queues",
            '[["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${DeliveryDeadLetterQueue.QueueName}", {"stat": "Maximum", "label": "dead-letter queue depth"}], ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${DeliveryQueue.QueueName}", {"stat": "Maximum", "label": "delivery queue depth"}], ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${DeliveryQueue.QueueName}", {"stat": "Maximum", "label": "oldest queued message (s)", "yAxis": "right"}]]',
            period=60,
        )
    )
    widgets.append(
        metric_widget(
            8,
            y,
            8,
            "Webhook API answers",
            '[["AWS/ApiGateway", "5xx", "ApiId", "${WebhookApi}", {"stat": "Sum", "label": "5xx (ingest unavailable or failed)"}], ["AWS/ApiGateway", "4xx", "ApiId", "${WebhookApi}", {"stat": "Sum", "label": "4xx (refused)"}], ["AWS/ApiGateway", "Count", "ApiId", "${WebhookApi}", {"stat": "Sum", "label": "requests"}]]',
        )
    )
    alarms = ", ".join(f'"${{{a}.Arn}}"' for a in ALARMS)
    widgets.append(
        f'{{"type": "alarm", "x": 16, "y": {y}, "width": 8, "height": 6, "properties": {{"title": "Alarms", "alarms": [{alarms}]}}}}'
    )
    functions = [(f"{p.id}IngestFunction", f"{p.name} ingest") for p in providers]
    functions.append(("ProcessorFunction", "processor"))

    def lambda_metric(metric: str, stat: str, function: str, label: str) -> str:
        return f'["AWS/Lambda", "{metric}", "FunctionName", "${{{function}}}", {{"stat": "{stat}", "label": "{label}"}}]'

    durations = ", ".join(lambda_metric("Duration", "p99", f, label) for f, label in functions)
    errors = ", ".join(
        [lambda_metric("Errors", "Sum", f, f"{label} errors") for f, label in functions]
        + [lambda_metric("Throttles", "Sum", f, f"{label} throttles") for f, label in functions]
    )
    widgets.append(metric_widget(0, y + 6, 12, "Function duration p99 (ms)", f"[{durations}]"))
    widgets.append(metric_widget(12, y + 6, 12, "Function errors and throttles", f"[{errors}]"))
    body = ",\n".join(f"            {w}" for w in widgets)
    return (
        "  Dashboard:\n"
        "    Type: AWS::CloudWatch::Dashboard\n"
        "    Properties:\n"
        "      DashboardName: !Sub ${AWS::StackName}-${AWS::Region}\n"
        "      # The per-provider widgets SEARCH the EMF metrics, so they show every provider present.\n"
        "      # (`${!...}` is a literal `${...}`: CloudWatch's dynamic labels, not a substitution.)\n"
        "      DashboardBody: !Sub |\n"
        "        {\n"
        '          "widgets": [\n'
        f"{body}\n"
        "          ]\n"
        "        }\n"
    )


def outputs(providers: list[Provider]) -> str:
    out = []
    for p in providers:
        out += [
            f"  {p.id}WebhookUrl:",
            f"    Description: Webhook URL to register with {p.title}",
            f"    Value: !Sub https://${{WebhookApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}{p.route}",
        ]
    for p in providers:
        out += [
            f"  {p.id}SecretArn:",
            f"    Description: Put {p.title}'s signing secret here (aws secretsmanager put-secret-value --secret-id <this> --secret-string '<secret>')",
            f"    Value: !Ref {p.id}WebhookSecret",
        ]
    return "\n".join(out) + "\n"


GENERATORS = {
    "rules": rules,
    "parameters": parameters,
    "conditions": conditions,
    "api": api,
    "ingest": ingest,
    "provider-alarms": provider_alarms,
    "dashboard": dashboard,
    "outputs": outputs,
}


def render(template: str, providers: list[Provider]) -> str:
    for region in REGIONS:
        begin, end = BEGIN.format(region=region), END.format(region=region)
        pattern = re.compile(
            r"^(?P<indent>[ ]*)" + re.escape(begin) + r"\n.*?^[ ]*" + re.escape(end) + r"\n",
            re.S | re.M,
        )
        matches = list(pattern.finditer(template))
        if len(matches) != 1:
            sys.exit(f"template: expected exactly one '{begin}' ... '{end}' region, found {len(matches)}")
        indent = matches[0].group("indent")
        block = f"{indent}{begin}\n{GENERATORS[region](providers)}{indent}{end}\n"
        template = template[: matches[0].start()] + block + template[matches[0].end() :]
    return template


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", required=True, help="the `scribehook providers` output (- for stdin)")
    parser.add_argument("--template", default="template.yaml", help="the template to read")
    parser.add_argument("--out", help="where to write (default: --template, in place)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 with a diff when out of date")
    args = parser.parse_args()
    text = sys.stdin.read() if args.providers == "-" else Path(args.providers).read_text()
    providers = load(text.splitlines())
    current = Path(args.template).read_text()
    generated = render(current, providers)
    if args.check:
        if generated == current:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                args.template,
                "generated from the provider list",
            )
        )
        print(
            f"{args.template} is out of date with the provider list: run `make template`",
            file=sys.stderr,
        )
        return 1
    Path(args.out or args.template).write_text(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
