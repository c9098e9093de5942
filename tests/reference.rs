//! The documentation: the command reference under `docs/reference/` is
//! what the clap definitions give (re-bless with `INVCTL_BLESS=1 cargo test
//! --test reference`), every relative link and image of README and `docs/`
//! resolves, and the list of moto's corrections names every one.

mod util;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

#[test]
fn the_command_reference_is_what_the_commands_say() {
    let folder = util::repo_root().join("docs/reference");
    let pages = invctl::reference::pages();
    assert!(pages.iter().any(|p| p.file == "invctl-deploy.md"));
    assert!(pages.iter().any(|p| p.file == "invctl-local-fault-add.md"));
    if util::blessing() {
        let _ = fs::remove_dir_all(&folder);
        fs::create_dir_all(&folder).unwrap();
        for page in &pages {
            fs::write(folder.join(&page.file), &page.markdown).unwrap();
        }
        return;
    }
    let mut drifted = Vec::new();
    for page in &pages {
        if fs::read_to_string(folder.join(&page.file)).ok().as_deref() != Some(&page.markdown) {
            drifted.push(page.file.clone());
        }
    }
    let expected: BTreeSet<String> = pages.iter().map(|p| p.file.clone()).collect();
    let on_disk: BTreeSet<String> = fs::read_dir(&folder)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    drifted.extend(
        on_disk
            .difference(&expected)
            .map(|f| format!("{f} (stale)")),
    );
    assert!(
        drifted.is_empty(),
        "docs/reference/ has drifted from the commands: {drifted:?}; run INVCTL_BLESS=1 cargo test --test reference and review the diff"
    );
}

/// Every Markdown file of the book, and README.
fn documents() -> Vec<PathBuf> {
    let root = util::repo_root();
    let mut found = vec![root.join("README.md")];
    found.extend(util::files_under(&root.join("docs"), "md"));
    found
}

/// The targets of `[text](target)` and `![alt](target)` in `markdown`,
/// outside code blocks and code spans.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        // Code spans hold examples, not links.
        let text: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_block = false;
    markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
            }
            !in_block && line.starts_with('#')
        })
        .map(|line| anchor_of(line.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_and_image_resolves() {
    let mut broken = Vec::new();
    let documents = documents();
    assert!(documents.len() > 10, "the book is found: {documents:?}");
    for document in &documents {
        let text = fs::read_to_string(document).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap().join(file)
            };
            let name = document.strip_prefix(util::repo_root()).unwrap().display();
            if !path.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor {
                let linked = fs::read_to_string(&path).unwrap_or_default();
                if !anchors(&linked).contains(anchor) {
                    broken.push(format!("{name}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_finds_what_is_broken() {
    let text = "see [a](guide/a.md#two) and ![b](b.svg), not `[c](c.md)`\n```\n[d](d.md)\n```";
    assert_eq!(link_targets(text), ["guide/a.md#two", "b.svg"]);
    assert_eq!(
        anchors("# The local cloud\n## `invctl deploy`, step 2\n```\n# not a heading\n```"),
        BTreeSet::from([
            "the-local-cloud".to_owned(),
            "invctl-deploy-step-2".to_owned()
        ])
    );
}

#[test]
fn every_moto_correction_is_in_the_list_of_corrections() {
    let launcher =
        fs::read_to_string(util::repo_root().join("tools/local/launcher/patches.py")).unwrap();
    let table = launcher
        .split("PATCHES = {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("the launcher's PATCHES table");
    let names: Vec<&str> = table
        .lines()
        .filter_map(|line| line.trim().strip_prefix('"')?.split('"').next())
        .collect();
    assert!(names.len() > 20, "{names:?}");
    let page = fs::read_to_string(util::repo_root().join("docs/development/moto.md")).unwrap();
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !page.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/development/moto.md does not list {missing:?}"
    );
}
