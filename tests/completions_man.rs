//! `invctl completions` and `invctl man`: scripts a real shell completes
//! with, and a manual page for every command the reference documents.

mod util;

use std::collections::BTreeSet;
use std::process::Command;

fn invctl() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("invctl"))
}

fn stdout_of(args: &[&str]) -> String {
    let output = util::run(invctl().args(args));
    assert!(output.status.success(), "{}", util::text(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// What bash offers after `words` (the last one being completed).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source {script}; COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _invctl invctl '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let output = util::run(Command::new("bash").args(["--norc", "-c", &program]));
    assert!(output.status.success(), "{}", util::text(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("invctl.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    assert_eq!(bash_completes(&script, &["invctl", "dep"]), ["deploy"]);
    assert_eq!(
        bash_completes(&script, &["invctl", "send-order", "--via", ""]),
        ["events", "lambda"]
    );
    let deploy_flags = bash_completes(&script, &["invctl", "deploy", "--no-"]);
    for flag in ["--no-execute", "--no-seed", "--no-reserved-concurrency"] {
        assert!(deploy_flags.iter().any(|f| f == flag), "{deploy_flags:?}");
    }
    assert_eq!(
        bash_completes(&script, &["invctl", "scan", "pur"]),
        ["purchase-orders"]
    );
}

#[test]
fn every_shell_gets_its_own_script() {
    for (shell, mark) in [
        ("zsh", "#compdef invctl"),
        ("fish", "complete -c invctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[invctl]"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(mark), "{shell}: {mark} missing");
        assert!(script.contains("send-order"), "{shell}: no send-order");
    }
    let unknown = util::run(invctl().args(["completions", "tcsh"]));
    assert_eq!(unknown.status.code(), Some(2));
    let text = util::text(&unknown);
    assert!(text.contains("possible values"), "{text}");
}

#[test]
fn a_manual_page_per_command_of_the_reference() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH invctl 1"),
        "{page}"
    );
    assert!(page.contains("send\\-order"), "subcommands listed");

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("man1");
    let report: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "man",
        "--out",
        folder.to_str().unwrap(),
        "--output",
        "json",
    ]))
    .unwrap();
    let reported: BTreeSet<String> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(reported, on_disk);
    // The same commands as the reference's pages, no more (no help pages).
    let referenced: BTreeSet<String> = invctl::reference::pages()
        .iter()
        .map(|p| p.file.trim_end_matches(".md").to_owned() + ".1")
        .collect();
    assert_eq!(on_disk, referenced);
    let deploy = std::fs::read_to_string(folder.join("invctl-deploy.1")).unwrap();
    assert!(deploy.contains("\\-\\-no\\-execute"), "{deploy}");
}

#[test]
fn a_folder_that_cannot_be_made_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let output = util::run(invctl().args(["man", "--out", file.join("man1").to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(1));
    let text = util::text(&output);
    assert!(text.contains("not-a-folder/man1"), "{text}");
}
