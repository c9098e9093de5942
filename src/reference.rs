//! The command reference under `docs/reference/`: one Markdown page per
//! command, written from the clap definitions (as rain's pages are written
//! by cobra), so the reference says what `--help` says and cannot drift
//! from it (`tests/reference.rs` compares the checked-in pages).

use clap::{Arg, ArgAction, Command};

/// A page of the reference: its file name and its Markdown.
pub struct Page {
    pub file: String,
    pub markdown: String,
}

/// Every page: `invctl.md`, then one per subcommand, depth first.
pub fn pages() -> Vec<Page> {
    let mut root = <crate::cli::Cli as clap::CommandFactory>::command();
    root.build();
    let mut pages = Vec::new();
    page_of(&root, &[], &mut pages);
    pages
}

fn file_of(path: &[&str]) -> String {
    format!("{}.md", path.join("-"))
}

fn page_of(command: &Command, parents: &[&str], pages: &mut Vec<Page>) {
    let mut path = parents.to_vec();
    path.push(command.get_name());
    let title = path.join(" ");
    let mut page = format!("# `{title}`\n\n");
    let about = command
        .get_long_about()
        .or_else(|| command.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    if !about.is_empty() {
        page.push_str(&about);
        page.push_str("\n\n");
    }
    let mut usage_command = command.clone().bin_name(&title);
    let usage = usage_command.render_usage().to_string();
    page.push_str(&format!(
        "```text\n{}\n```\n\n",
        usage.trim_end().replace("\n\n", "\n")
    ));

    let root = parents.is_empty();
    let positionals: Vec<&Arg> = command
        .get_positionals()
        .filter(|a| !a.is_hide_set())
        .collect();
    if !positionals.is_empty() {
        page.push_str("| argument | meaning |\n| --- | --- |\n");
        for arg in positionals {
            page.push_str(&format!(
                "| `{}` | {} |\n",
                value_names(arg).unwrap_or_else(|| arg.get_id().to_string()),
                meaning(arg)
            ));
        }
        page.push('\n');
    }
    // The global options are listed once, on the root page.
    let options: Vec<&Arg> = command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter(|a| root || !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    if !options.is_empty() {
        page.push_str("| option | meaning |\n| --- | --- |\n");
        for arg in options {
            page.push_str(&format!("| `{}` | {} |\n", flag_of(arg), meaning(arg)));
        }
        page.push('\n');
    }
    if !root {
        page.push_str(&format!(
            "Also the global options of [`invctl`]({}).\n\n",
            file_of(&["invctl"])
        ));
    }
    let subcommands: Vec<&Command> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .collect();
    if !subcommands.is_empty() {
        page.push_str("| command | what it does |\n| --- | --- |\n");
        for sub in &subcommands {
            let mut sub_path = path.clone();
            sub_path.push(sub.get_name());
            page.push_str(&format!(
                "| [`{}`]({}) | {} |\n",
                sub_path.join(" "),
                file_of(&sub_path),
                sub.get_about().map(ToString::to_string).unwrap_or_default()
            ));
        }
        page.push('\n');
    }
    if let Some(after) = command.get_after_long_help().or(command.get_after_help()) {
        page.push_str(&after.to_string());
        page.push('\n');
    }
    pages.push(Page {
        file: file_of(&path),
        markdown: format!("{}\n", page.trim_end()),
    });
    for sub in subcommands {
        page_of(sub, &path, pages);
    }
}

fn value_names(arg: &Arg) -> Option<String> {
    let names = arg.get_value_names()?;
    Some(
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn flag_of(arg: &Arg) -> String {
    let mut flag = String::new();
    if let Some(short) = arg.get_short() {
        flag.push_str(&format!("-{short}, "));
    }
    if let Some(long) = arg.get_long() {
        flag.push_str(&format!("--{long}"));
    }
    if takes_values(arg) {
        let name = value_names(arg).unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        flag.push_str(&format!(" {name}"));
    }
    flag
}

/// The argument's help, its possible values and its default, on one line
/// of a Markdown table.
fn meaning(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(ToString::to_string)
        .unwrap_or_default()
        .replace("\n\n", " ")
        .replace('\n', " ");
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && takes_values(arg) {
        text.push_str(&format!(" (one of {})", values.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && takes_values(arg) {
        text.push_str(&format!("; default `{}`", defaults.join(" ")));
    }
    text.trim().replace('|', "\\|")
}

fn takes_values(arg: &Arg) -> bool {
    !matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    )
}
