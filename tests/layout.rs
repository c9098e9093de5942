//! The house: no import circle among the files of `src/` (a file that
//! names another through `crate::`, `super::` or a child module depends on
//! it, re-exports included), and no file over 500 lines outside
//! `src/model/` unless its module doc says why it reads best whole.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

/// Every `.rs` file of the library, with its module path (`local::plane`).
fn library_files() -> BTreeMap<Vec<String>, PathBuf> {
    let src = util::repo_root().join("src");
    util::files_under(&src, "rs")
        .into_iter()
        // main.rs is the binary's crate, not the library's.
        .filter(|path| path != &src.join("main.rs"))
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            (module, path)
        })
        .collect()
}

/// The code of a file without its tests and comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths (`a::b::c`) that follow `prefix` in `code`; a group
/// (`a::{b, c::d}`) gives one path per member.
fn paths_after(code: &str, prefix: &str) -> Vec<(usize, Vec<String>)> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let group = rest[end..]
            .strip_prefix('{')
            .and_then(|inside| inside.split('}').next());
        match group {
            Some(members) if rest[..end].ends_with("::") || end == 0 => {
                for member in members.split(',') {
                    let first = member.trim().split("::").next().unwrap_or_default();
                    let first = first.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                    if !first.is_empty() && first != "self" {
                        let mut full = path.clone();
                        full.push(first.to_owned());
                        paths.push((at, full));
                    }
                }
            }
            _ => paths.push((at, path)),
        }
    }
    paths
}

/// Where the inline modules (`mod x { ... }`) of `code` are.
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        let rest = &code[at + 4..];
        let name_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_end == 0 || !rest[name_end..].trim_start().starts_with('{') {
            continue;
        }
        let open = at + 4 + name_end + rest[name_end..].find('{').unwrap();
        let mut depth = 0;
        for (offset, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        ranges.push(open..open + offset);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    ranges
}

/// Which files each file depends on.
fn dependencies() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = library_files();
    // The longest module prefix of `path` that is a file.
    let resolve = |path: &[String]| -> Option<PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|n| files.get(&path[..n]).cloned())
    };
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let code = code_of(&fs::read_to_string(file).unwrap());
        let is_folder_root = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let mut out = BTreeSet::new();
        for (_, path) in paths_after(&code, "crate::") {
            out.extend(resolve(&path));
        }
        // In an inline `mod x { ... }`, `super` is this file itself.
        let inline = inline_modules(&code);
        for (at, path) in paths_after(&code, "super::") {
            if inline.iter().any(|range| range.contains(&at)) {
                continue;
            }
            let ups = 1 + path.iter().take_while(|s| **s == "super").count();
            let base = &module[..module.len().saturating_sub(ups)];
            let mut full: Vec<String> = base.to_vec();
            full.extend(path.iter().skip(ups - 1).cloned());
            out.extend(resolve(&full));
        }
        if is_folder_root {
            // A child named in its parent's code: `child::x`, `use child::...`.
            for (child_module, child_file) in &files {
                if child_module.len() == module.len() + 1
                    && child_module.starts_with(module)
                    && code.contains(&format!("{}::", child_module.last().unwrap()))
                {
                    out.insert(child_file.clone());
                }
            }
        }
        out.remove(file);
        edges.insert(file.clone(), out);
    }
    edges
}

/// One circle of files, if there is any.
fn a_circle(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    // Depth first; a file met again while on the path closes a circle.
    fn visit(
        file: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        path: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(at) = path.iter().position(|f| f == file) {
            let mut circle = path[at..].to_vec();
            circle.push(file.clone());
            return Some(circle);
        }
        if done.contains(file) {
            return None;
        }
        path.push(file.clone());
        for next in edges.get(file).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(file.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|file| visit(file, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_file_of_the_library_imports_itself_in_a_circle() {
    let edges = dependencies();
    let root = util::repo_root().join("src");
    let named = |file: &PathBuf| file.strip_prefix(&root).unwrap().display().to_string();
    // The check sees real dependencies.
    assert!(edges[&root.join("aws/mod.rs")].contains(&root.join("config.rs")));
    assert!(edges[&root.join("stack/mod.rs")].contains(&root.join("stack/template/mod.rs")));
    // Every circle, one at a time: report it, cut its last step, look again.
    let mut remaining = edges.clone();
    let mut circles = Vec::new();
    while let Some(circle) = a_circle(&remaining) {
        let (from, to) = (&circle[circle.len() - 2], &circle[circle.len() - 1]);
        remaining.get_mut(from).unwrap().remove(to);
        circles.push(circle.iter().map(named).collect::<Vec<_>>().join(" -> "));
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_check_finds_a_circle() {
    let edge = |from: &str, to: &[&str]| {
        (
            PathBuf::from(from),
            to.iter().map(PathBuf::from).collect::<BTreeSet<_>>(),
        )
    };
    let edges = BTreeMap::from([
        edge("aws.rs", &["config.rs"]),
        edge("config.rs", &["local/mod.rs"]),
        edge("local/mod.rs", &["aws.rs"]),
        edge("lib.rs", &["aws.rs"]),
    ]);
    let circle = a_circle(&edges).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4);
    let mut without = edges.clone();
    without.insert(PathBuf::from("local/mod.rs"), BTreeSet::new());
    assert_eq!(a_circle(&without), None);
}

/// Files over this many lines hold several things, unless they say why not.
const LONGEST_FILE: usize = 500;

/// What a long file's module doc says to be kept whole.
const KEPT_WHOLE: &str = "Kept whole:";

#[test]
fn no_long_file_outside_the_models_unless_it_says_why() {
    let root = util::repo_root().join("src");
    let mut long = Vec::new();
    for file in library_files().values().chain([&root.join("main.rs")]) {
        if file.starts_with(root.join("model")) {
            continue;
        }
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let text = fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        let module_doc: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        if lines > LONGEST_FILE && !module_doc.contains(KEPT_WHOLE) {
            long.push(format!("{name} ({lines} lines)"));
        }
    }
    assert!(
        long.is_empty(),
        "split these, or say in the module doc why each reads best whole (\"{KEPT_WHOLE} ...\"): {long:?}"
    );
}
