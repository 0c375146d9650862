#!/usr/bin/env python3
"""template.yaml as CloudFormation will see it: the SAM transform, offline.

    sam_transform.py TEMPLATE [--sets SETS.json | --set NAME=VALUE ...] [--raw] [--out PATH]

Runs aws-sam-translator (the library `sam` and CloudFormation's own AWS::Serverless
transform are built on) on TEMPLATE once per parameter set, with a stubbed managed-policy
map, so no AWS account or credentials are needed. Then, unless --raw, it settles what
CloudFormation settles at deploy time for that parameter set: every condition is evaluated,
resources and outputs whose condition is false are dropped, each Fn::If is replaced by its
chosen branch, AWS::NoValue disappears and `Ref`s to parameters become their values. What
is left (Ref/GetAtt/Sub of resources) is what the stack would be given.

SETS.json is a list of {"name": ..., "parameters": {...}}; with --set, one set is built
from NAME=VALUE pairs. Prints (or writes to --out) one JSON document:

    {"sets": [{"name", "parameters", "conditions": {name: bool}, "template": {...}}]}

With a single --set and --template-only, only the transformed template is printed (for
checkov and cfn-guard).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from typing import Any

import yaml

# The translator asks boto3 for a region only to name the partition; give it one.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "scribehook",
    "AWS::URLSuffix": "amazonaws.com",
}


class ManagedPolicies:
    """The AWS managed policies the template's functions may be given (by SAM itself for
    X-Ray and the basic execution role, or by name); the real service answers the same ARNs."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        }


# ------------------------------------------------------------------ YAML with CFN tags


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)
# CloudFormation reads dates and times as strings ("2012-10-17" stays text).
CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in CfnLoader.yaml_implicit_resolvers.items()
}


def load_template(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


# ------------------------------------------------------------------ parameters and conditions


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value for this set (given, else the default), typed as
    CloudFormation types it: a CommaDelimitedList is a list, everything else a string."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        sys.exit(f"unknown parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = given.get(name, spec.get("Default"))
        if raw is None:
            sys.exit(f"parameter {name} has no default and no value")
        if isinstance(raw, bool):
            raw = str(raw).lower()
        raw = str(raw)
        allowed = spec.get("AllowedValues")
        if allowed is not None and raw not in [str(a) for a in allowed]:
            sys.exit(f"parameter {name}: {raw!r} is not one of {allowed}")
        values[name] = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else raw
    return values


class Resolver:
    def __init__(self, template: dict[str, Any], params: dict[str, Any]):
        self.params = {**PSEUDO, **params}
        self.definitions = template.get("Conditions", {})
        self.conditions: dict[str, bool] = {}
        for name in self.definitions:
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            if name not in self.definitions:
                sys.exit(f"unknown condition {name}")
            self.conditions[name] = bool(self.value(self.definitions[name]))
        return self.conditions[name]

    def value(self, expr: Any) -> Any:
        """A condition's expression, evaluated (only what conditions may contain)."""
        if isinstance(expr, (str, int, float, bool)):
            return str(expr) if not isinstance(expr, bool) else expr
        if isinstance(expr, list):
            return [self.value(e) for e in expr]
        if isinstance(expr, dict) and len(expr) == 1:
            (fn, arg), = expr.items()
            if fn == "Ref":
                if arg not in self.params:
                    sys.exit(f"a condition refers to {arg}, which is no parameter")
                return self.params[arg]
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return a == b
            if fn == "Fn::Not":
                return not self.value(arg[0])
            if fn == "Fn::And":
                return all(self.value(x) for x in arg)
            if fn == "Fn::Or":
                return any(self.value(x) for x in arg)
            if fn == "Fn::Join":
                sep, items = arg
                items = self.value(items)
                return sep.join(items)
            if fn == "Fn::Split":
                sep, text = arg
                return self.value(text).split(sep)
            if fn == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
        sys.exit(f"cannot evaluate {json.dumps(expr)} in a condition")


NO_VALUE = object()


def settle(node: Any, resolver: Resolver) -> Any:
    """Fn::If by the set's conditions, AWS::NoValue removed, parameter Refs replaced."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Fn::If":
                name, yes, no = arg
                return settle(yes if resolver.condition(name) else no, resolver)
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if key == "Ref" and isinstance(arg, str) and arg in resolver.params and not arg.startswith("AWS::"):
                return copy.deepcopy(resolver.params[arg])
        out = {}
        for k, v in node.items():
            settled = settle(v, resolver)
            if settled is not NO_VALUE:
                out[k] = settled
        return out
    if isinstance(node, list):
        return [s for s in (settle(v, resolver) for v in node) if s is not NO_VALUE]
    return node


def resolve(cfn: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    out = dict(cfn)
    for section in ("Resources", "Outputs"):
        kept = {}
        for name, body in cfn.get(section, {}).items():
            condition = body.get("Condition")
            if condition is not None and not resolver.condition(condition):
                continue
            kept[name] = settle(body, resolver)
        out[section] = kept
    return out


# ------------------------------------------------------------------ the transform


def local_code_to_s3(template: dict[str, Any]) -> None:
    """`CodeUri: ./` is for `sam build`; the transform wants what `sam deploy` uploads."""
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str) and not function_globals["CodeUri"].startswith("s3://"):
        function_globals["CodeUri"] = "s3://scribehook-artifacts/bootstrap.zip"
    for body in template.get("Resources", {}).values():
        props = body.get("Properties") or {}
        if body.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = "s3://scribehook-artifacts/bootstrap.zip"


def translate(source: dict[str, Any], given: dict[str, str], raw: bool) -> dict[str, Any]:
    template = copy.deepcopy(source)
    local_code_to_s3(template)
    params = parameter_values(template, given)
    try:
        cfn = transform(
            template,
            {**PSEUDO, **params},
            ManagedPolicies(),
            passthrough_metadata=True,
        )
    except InvalidDocumentException as e:
        sys.exit("SAM transform failed: " + "; ".join(str(c) for c in e.causes))
    resolver = Resolver(cfn, params)
    return {
        "parameters": params,
        "conditions": resolver.conditions,
        "template": cfn if raw else resolve(cfn, resolver),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template")
    parser.add_argument("--sets", help="JSON file (or - for stdin) listing the parameter sets")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--raw", action="store_true", help="leave conditions to CloudFormation")
    parser.add_argument("--template-only", action="store_true", help="print only the template of the one set")
    parser.add_argument("--out", help="write here instead of standard output")
    args = parser.parse_args()

    if args.sets:
        text = sys.stdin.read() if args.sets == "-" else open(args.sets, encoding="utf-8").read()
        sets = json.loads(text)
    else:
        given = {}
        for pair in args.set:
            name, sep, value = pair.partition("=")
            if not sep:
                sys.exit(f"--set wants NAME=VALUE, not {pair!r}")
            given[name] = value
        sets = [{"name": "given", "parameters": given}]

    source = load_template(args.template)
    results = []
    for s in sets:
        result = translate(source, {k: str(v) for k, v in s.get("parameters", {}).items()}, args.raw)
        results.append({"name": s.get("name", ""), **result})
    if args.template_only:
        if len(results) != 1:
            sys.exit("--template-only wants exactly one parameter set")
        document: Any = results[0]["template"]
    else:
        document = {"sets": results}
    text = json.dumps(document, indent=1, sort_keys=False)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
