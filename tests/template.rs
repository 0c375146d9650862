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
