//! The built `authensor` binary on the files of tests/fixtures: output and
//! exit status of each command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The platform policy the extension's tests publish (tests/fixtures).
fn platform() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/platform.yaml")
        .to_string_lossy()
        .into_owned()
}

/// Exit status and standard output, with fixture paths shortened to names.
fn run(arguments: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authensor"))
        .args(arguments)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let prefix = format!("{}/", fixture("").trim_end_matches('/'));
    let stdout = String::from_utf8(output.stdout)
        .unwrap()
        .replace(&prefix, "");
    (output.status.code().expect("an exit status"), stdout)
}

#[test]
fn lint_reports_errors_with_their_position_and_fails() {
    let (status, out) = run(&["lint", &fixture("mail.yaml"), &fixture("broken.yaml")]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("broken.yaml:6:9: error 22023: unknown operator \"endswith\" at rules[0].when.args.to\n  hint: valid operators:"),
        "{out}"
    );
    assert!(
        out.ends_with("2 files: 1 with errors, 0 warnings\n"),
        "{out}"
    );
}

#[test]
fn lint_warns_with_stable_codes_without_failing() {
    let warnings = fixture("warnings.yaml");
    let (status, out) = run(&["lint", "--platform", &platform(), &warnings]);
    assert_eq!(status, 0, "{out}");
    let codes: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("warnings.yaml: warning "))
        .map(|rest| rest.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "shadowed-rule",
            "unsatisfiable-condition",
            "overridden-by-platform"
        ]
    );
    // Without the platform policy, nothing overrides the tenant's rules.
    let (_, out) = run(&["lint", &warnings]);
    assert!(!out.contains("overridden-by-platform"), "{out}");
    let (status, _) = run(&["lint", "--deny-warnings", &warnings]);
    assert_eq!(status, 1);
}

#[test]
fn test_prints_a_table_and_fails_on_a_failing_case() {
    let (status, out) = run(&["test", "--platform", &platform(), &fixture("mail.yaml")]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("tests[2]  system.exec  block by rule \"no-system-tools\"  block by platform rule \"no-system-tools\"  ok"),
        "{out}"
    );
    assert!(
        out.ends_with("3 passed, 0 failed, 0 files with errors\n"),
        "{out}"
    );

    let (status, out) = run(&["test", "--platform", &platform(), &fixture("failing.yaml")]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains(
            "tests[0]  system.exec  allow     block by platform rule \"no-system-tools\"  FAIL"
        ),
        "{out}"
    );
    assert!(
        out.contains("tests[1]  file.read    block     block by the fail-closed default"),
        "{out}"
    );

    // Alone, without the platform policy, the shell is not blocked.
    let (status, out) = run(&["test", &fixture("mail.yaml")]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("tests[2]  system.exec  block by rule \"no-system-tools\"  escalate by the tenant policy's default  FAIL"), "{out}");
}

#[test]
fn fmt_checks_rewrites_and_is_idempotent() {
    let (status, out) = run(&[
        "fmt",
        "--check",
        &fixture("mail.yaml"),
        &fixture("mail-v2.yaml"),
    ]);
    assert_eq!((status, out.as_str()), (0, ""));
    let (status, out) = run(&["fmt", "--check", &fixture("warnings.yaml")]);
    assert_eq!(status, 1);
    assert_eq!(out, "warnings.yaml: not in the canonical layout\n");

    let copy = scratch("warnings.yaml");
    std::fs::copy(fixture("warnings.yaml"), &copy).unwrap();
    let copy = copy.to_string_lossy().into_owned();
    let (status, out) = run(&["fmt", &copy]);
    assert_eq!(status, 0, "{out}");
    assert!(out.ends_with(": formatted\n"), "{out}");
    let once = std::fs::read_to_string(&copy).unwrap();
    assert!(
        once.starts_with("rules:\n  - id: mail\n    tool: email.*\n    action: escalate\n"),
        "{once}"
    );
    let (status, out) = run(&["fmt", "--check", &copy]);
    assert_eq!((status, out.as_str()), (0, ""));
    // The rewritten policy warns exactly as before.
    assert_eq!(
        run(&["lint", "--platform", &platform(), &copy])
            .1
            .replace(&copy, "F"),
        run(&["lint", "--platform", &platform(), &fixture("warnings.yaml")])
            .1
            .replace("warnings.yaml", "F")
    );
}

#[cfg(unix)]
#[test]
fn fmt_in_place_keeps_the_file_mode_and_symbolic_links() {
    use std::os::unix::fs::PermissionsExt;
    let real = scratch("linked-warnings.yaml");
    let link = scratch("link.yaml");
    std::fs::copy(fixture("warnings.yaml"), &real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (status, out) = run(&["fmt", &link.to_string_lossy()]);
    assert_eq!(status, 0, "{out}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mode = std::fs::metadata(&real).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    let (status, out) = run(&["fmt", "--check", &real.to_string_lossy()]);
    assert_eq!((status, out.as_str()), (0, ""));
    let leftovers = std::fs::read_dir(real.parent().unwrap())
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".authensor-fmt-")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn fmt_refuses_a_broken_policy() {
    let (status, out) = run(&["fmt", "--check", &fixture("broken.yaml")]);
    assert_eq!(status, 1);
    assert!(out.starts_with("broken.yaml:6:9: error 22023"), "{out}");
}

#[test]
fn diff_lists_the_calls_whose_decision_changes() {
    let (status, out) = run(&[
        "diff",
        "--platform",
        &platform(),
        "--requests",
        &fixture("requests.jsonl"),
        &fixture("mail.yaml"),
        &fixture("mail-v2.yaml"),
    ]);
    assert_eq!(status, 1, "{out}");
    assert_eq!(
        out,
        "mail.yaml tests[1] (tool \"email.send\"): escalate by the tenant policy's default -> block by tenant rule \"outside-mail\"\n\
         requests.jsonl:1 (tool \"file.read\"): allow by tenant rule \"reads\" -> block by tenant rule \"secrets\"\n\
         2 of 5 calls change decision\n"
    );
    let (status, out) = run(&["diff", &fixture("mail.yaml"), &fixture("mail.yaml")]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(out, "0 of 3 calls change decision\n");
}

#[test]
fn explain_names_the_condition_that_failed() {
    let (status, out) = run(&[
        "explain",
        &fixture("mail.yaml"),
        "--platform",
        &platform(),
        "--tool",
        "email.send",
        "--args",
        r#"{"to": "eve@elsewhere.com"}"#,
        "--tenant",
        "tenant-a",
    ]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(
        out,
        "escalate by the tenant policy's default
  reason: no rule matched; the policy default is escalate
platform policy: 2 rules, no default; visited 0
tenant policy: 2 rules, default escalate; visited 1
  rule \"own-domain\" (allow): condition fails
    args.to endsWith \"@${context.tenantId}.com\" (filled in: \"@tenant-a.com\") on \"eve@elsewhere.com\": false
"
    );
    let (_, out) = run(&[
        "explain",
        &fixture("warnings.yaml"),
        "--tool",
        "payments.send",
        "--args",
        r#"{"amount": "x"}"#,
    ]);
    assert!(
        out.contains("args.amount gt 5 on \"x\", a string, which gt does not read: false"),
        "{out}"
    );
    let (_, out) = run(&[
        "explain",
        &fixture("mail.yaml"),
        "--platform",
        &platform(),
        "--tool",
        "system.exec",
    ]);
    assert!(
        out.starts_with("block by platform rule \"no-system-tools\""),
        "{out}"
    );
    assert!(
        out.ends_with("tenant policy: not consulted after a platform block\n"),
        "{out}"
    );
}

#[test]
fn explain_says_a_rate_count_is_unknown_offline() {
    let (status, out) = run(&["explain", &fixture("rate.yaml"), "--tool", "email.send"]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.starts_with("allow by the tenant policy's default"),
        "{out}"
    );
    assert!(
        out.contains(
            "rate {max: 3, per: 1m, scope: tool}, calls counted: unknown here (no record of calls), taken as 0: false"
        ),
        "{out}"
    );
}

#[test]
fn usage_and_io_errors_exit_with_2() {
    for arguments in [
        vec!["bogus"],
        vec![],
        vec!["lint"],
        vec!["lint", "--platfrom", "x"],
        vec!["test", "/nonexistent/policy.yaml"],
        vec!["diff", "one.yaml"],
        vec!["explain", "one.yaml"],
        vec!["explain", "one.yaml", "--tool", "a", "--args", "[1]"],
        vec!["test", "--platform", "/nonexistent/p.yaml", "x.yaml"],
    ] {
        assert_eq!(run(&arguments).0, 2, "{arguments:?}");
    }
    let (status, _) = run(&[
        "test",
        "--platform",
        &fixture("broken.yaml"),
        &fixture("mail.yaml"),
    ]);
    assert_eq!(status, 2);
    // An option's value is missing, not the next option; no call is made
    // for an empty tenant or a tool longer than 512 bytes.
    let mail = fixture("mail.yaml");
    let long_tool = "t".repeat(513);
    for arguments in [
        vec!["explain", &mail, "--tool", "--args", "{}"],
        vec!["lint", "--platform", "--deny-warnings", &mail],
        vec!["explain", &mail, "--tool", &long_tool],
        vec!["explain", &mail, "--tool", "a", "--tenant", ""],
        vec!["test", "--tenant", "", &mail],
        vec!["diff", "--tenant", "a\nb", &mail, &mail],
    ] {
        assert_eq!(run(&arguments).0, 2, "{arguments:?}");
    }
}

/// A path in a directory of the calling test's own (tests run in parallel and
/// `fmt` leaves a temporary file beside the one it rewrites).
fn scratch(name: &str) -> PathBuf {
    let test = std::thread::current()
        .name()
        .unwrap_or("main")
        .replace("::", "-");
    let dir =
        std::env::temp_dir().join(format!("authensor-cli-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn template(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/authensor-templates")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn import_prints_a_policy_that_lints_and_is_formatted() {
    let (status, yaml) = run(&["import", &template("payments.json")]);
    assert_eq!(status, 0, "{yaml}");
    assert!(
        yaml.contains("    approval:\n      expires: \"30m\"\n      required: 2\n"),
        "{yaml}"
    );
    let imported = scratch("payments.yaml");
    std::fs::write(&imported, &yaml).unwrap();
    let imported = imported.to_string_lossy().into_owned();
    let (status, out) = run(&["lint", "--deny-warnings", &imported]);
    assert_eq!(status, 0, "{out}");
    let (status, out) = run(&["fmt", "--check", &imported]);
    assert_eq!(status, 0, "{out}");
    assert_eq!(
        run(&[
            "import",
            "--format",
            "authensor",
            &template("payments.json")
        ])
        .1,
        yaml
    );
}

#[test]
fn import_prints_a_rate_limit_that_lints_and_its_notes_on_standard_error() {
    let source = scratch("limited.json");
    std::fs::write(
        &source,
        r#"{"id": "p", "rules": [{"id": "r", "effect": "allow", "name": "R", "rateLimit": {"requests": 5, "window": "1m", "scope": "global"}}]}"#,
    )
    .unwrap();
    let source = source.to_string_lossy().into_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_authensor"))
        .args(["import", &source])
        .output()
        .expect("the binary runs");
    let (yaml, notes) = (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    );
    assert_eq!(output.status.code(), Some(0), "{notes}");
    assert!(yaml.contains("  - id: r.rate-limited\n"), "{yaml}");
    let note = "note: rules[0].name is not carried";
    assert!(notes.contains(&format!("{source}: {note}")), "{notes}");
    let imported = scratch("limited.yaml");
    std::fs::write(&imported, &yaml).unwrap();
    let imported = imported.to_string_lossy().into_owned();
    let (status, out) = run(&["lint", "--deny-warnings", &imported]);
    assert_eq!(status, 0, "{out}");
    let (status, out) = run(&["fmt", "--check", &imported]);
    assert_eq!(status, 0, "{out}");
}

#[test]
fn import_refuses_what_it_cannot_express_and_fails() {
    let source = scratch("rate.json");
    std::fs::write(
        &source,
        r#"{"id": "p", "rules": [{"id": "r", "effect": "allow", "rateLimit": {"requests": 5, "window": "1m"}}]}"#,
    )
    .unwrap();
    let (status, out) = run(&["import", &source.to_string_lossy()]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("error 22023: a limit per principal (Authensor's default scope) cannot be expressed: rate limits count the tenant's calls at rules[0].rateLimit.scope"), "{out}");
    assert_eq!(
        run(&["import", "--format", "cedar", &template("payments.json")]).0,
        2
    );
    assert_eq!(run(&["import"]).0, 2);
}

#[test]
fn a_closed_standard_output_ends_the_program_without_a_panic() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_authensor"))
        .arg("fmt")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // fmt reads all of stdin before it writes: its reader is gone by then.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"rules: [{action: allow}]\n").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, "");
}
