//! `invctl local up|status|down`: the local cloud's life (see [`crate::local`]).
//!
//! `up` runs it in the foreground, one line per thing that happens, until
//! Ctrl-C; `up --detach` starts the same thing in the background, its lines
//! going to a log file, and returns once it answers. `down` stops it and
//! waits until its processes are gone and its port is closed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::local::console::Console;
use crate::local::iam::IamMode;
use crate::local::plane::Plane;
use crate::local::sources::Sources;
use crate::local::{state_dir, CloudLock, LocalError, LocalState};
use crate::output::{OutputFormat, ReportArgs};

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: LocalAction,
    /// The folder whose local cloud this is [default: the invctl source tree above the current folder, else the current folder]
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LocalAction {
    /// Start the local cloud; it runs until Ctrl-C (or `invctl local down`)
    Up {
        /// Return once it is ready, leaving it running in the background (its lines go to a log file)
        #[arg(long)]
        detach: bool,
        /// Run workflow timeouts and waits, and schedules, N times faster than real time (3600: a day-long approval deadline passes in 24 s); the deployed stack is unchanged
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        time_scale: u32,
        /// Rebuild a function when its crate changes and reload only it; update the stacks in place when the workflow models change (needs the invctl source tree)
        #[arg(long)]
        watch: bool,
        /// Fault rules in force from the start: `[[fault]]` tables in TOML (target, error, rate, times, caller), or a JSON list of them
        #[arg(long, value_name = "FILE")]
        faults: Option<PathBuf>,
        /// IAM: enforce denies every call a role's policies do not allow, as AWS does; audit lets it through and reports it; off checks nothing
        #[arg(long, value_enum, default_value_t = IamMode::Enforce)]
        iam: IamMode,
    },
    /// Per role: the actions it used (with their resources), the grants it never used, the calls denied
    Iam {
        #[command(flatten)]
        report: ReportArgs,
    },
    /// AWS's faults on demand: errors AWS returns, deliveries twice, crashed instances
    Fault {
        #[command(subcommand)]
        action: super::fault::FaultAction,
    },
    /// Say whether it runs, and where
    Status {
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Stop it; no process of it is left
    Down,
    /// The mail the stack sent (email subscriptions deliver to a local outbox), oldest first
    Mail {
        /// Keep watching and print each new message as it arrives (until Ctrl-C); with --output json, one object per line
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        report: ReportArgs,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NotRunning(#[from] LocalError),
    #[error(
        "a local cloud already runs for this workspace at {endpoint}; `invctl local down` stops it"
    )]
    AlreadyRunning { endpoint: String },
    #[error("{python} is missing: run scripts/setup-tools.sh (it installs moto, pinned, into the project)")]
    NoMoto { python: PathBuf },
    #[error("cannot start the local cloud: {0}")]
    Start(String),
    #[error("the local cloud did not get ready within {seconds} s; its log is {log}")]
    NotReady { seconds: u64, log: PathBuf },
    #[error("the local cloud (process {pid}) did not stop")]
    DidNotStop { pid: u32 },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
    #[error(transparent)]
    Faults(crate::local::faults::FaultError),
    #[error(transparent)]
    Fault(Box<super::fault::Error>),
    #[error(transparent)]
    Iam(Box<super::iam::Error>),
    #[error("cannot read the outbox {path}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::NotRunning(_) => crate::exit::NOT_DEPLOYED,
            Error::NoMoto { .. } => crate::exit::MISSING_TOOL,
            Error::Faults(crate::local::faults::FaultError::Cloud(_)) => crate::exit::FAILURE,
            Error::Faults(_) => crate::exit::USAGE,
            Error::Fault(e) => e.exit_code(),
            Error::Iam(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

fn start_folder(args: &LocalArgs) -> Result<PathBuf, Error> {
    match &args.workspace {
        Some(dir) => Ok(dir.clone()),
        None => std::env::current_dir().map_err(|e| Error::Start(e.to_string())),
    }
}

/// How long `up` waits for moto (a cold start imports a lot of Python).
const READY_WITHIN: Duration = Duration::from_secs(90);

pub fn run(args: &LocalArgs, out: &mut dyn Write) -> Result<(), Error> {
    let start = start_folder(args)?;
    match args.action {
        LocalAction::Up {
            detach,
            time_scale,
            watch,
            ref faults,
            iam,
        } => {
            // Bad rules are refused before anything starts.
            let rules = match faults {
                Some(path) => crate::local::faults::read_rules(path).map_err(Error::Faults)?,
                None => Vec::new(),
            };
            let options = UpOptions {
                time_scale,
                watch,
                faults: faults.clone(),
                iam,
            };
            if detach {
                detach_up(&start, &options, out)
            } else {
                up(&start, &options, &rules, out)
            }
        }
        LocalAction::Iam { report } => {
            super::iam::run(&start, report.output, out).map_err(|e| Error::Iam(Box::new(e)))
        }
        LocalAction::Fault { ref action } => {
            super::fault::run(&start, action, out).map_err(|e| Error::Fault(Box::new(e)))
        }
        LocalAction::Status { report } => status(&start, report.output, out),
        LocalAction::Down => down(&start, out),
        LocalAction::Mail { follow, report } => mail(&start, follow, report.output, out),
    }
}

/// Messages from the outbox: readable text, or JSON (one document, or
/// one line per message while following, so each can be read as it comes).
#[derive(Serialize)]
#[serde(transparent)]
struct MailReport<'a>(&'a [crate::local::outbox::Mail]);

impl crate::output::Report for MailReport<'_> {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for message in self.0 {
            writeln!(
                out,
                "{}  to {}\nSubject: {}\n\n{}\n",
                message.time,
                message.to,
                message.subject,
                message.body.trim_end()
            )?;
        }
        Ok(())
    }
}

fn print_mail(
    mail: &[crate::local::outbox::Mail],
    output: OutputFormat,
    one_json_per_line: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if output == OutputFormat::Json && one_json_per_line {
        for message in mail {
            writeln!(out, "{}", serde_json::to_string(message)?)?;
        }
    } else {
        crate::output::print(&MailReport(mail), output, out)?;
    }
    out.flush()
}

/// `invctl local mail`: the outbox, then (with `follow`) what arrives next.
fn mail(
    start: &Path,
    follow: bool,
    output: OutputFormat,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let path = crate::local::outbox_file(&state_dir(start));
    let read = || {
        crate::local::outbox::read(&path).map_err(|source| Error::Outbox {
            path: path.clone(),
            source,
        })
    };
    if !follow && !path.exists() {
        // Nothing sent and nothing running: say how to get there.
        if let Err(not_running) = LocalState::running(start) {
            return Err(not_running.into());
        }
    }
    let mut shown = read()?;
    print_mail(&shown, output, follow, out).map_err(Error::Report)?;
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = read()?;
        // A new `local up` starts a fresh outbox: show it from its start.
        let new = if now.len() >= shown.len() && now[..shown.len()] == shown[..] {
            &now[shown.len()..]
        } else {
            &now[..]
        };
        print_mail(new, output, true, out).map_err(Error::Report)?;
        shown = now;
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    running: bool,
    #[serde(flatten)]
    state: Option<LocalState>,
}

impl crate::output::Report for StatusReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let report = self;
        match &report.state {
            Some(state) => writeln!(
                out,
                "local cloud running (process {})\n  endpoint  {}\n  region    {}\n  plane     {}\n  log       {}{}",
                state.pid,
                state.endpoint,
                state.region,
                state.plane,
                state.log.display(),
                if state.time_scale > 1 {
                    format!("\n  time      {}x faster (workflow timeouts, waits, schedules)", state.time_scale)
                } else {
                    String::new()
                }
            )
            .and_then(|()| writeln!(out, "  iam       {}", state.iam.as_str())),
            None => Ok(()),
        }
    }
}

fn status(start: &Path, output: OutputFormat, out: &mut dyn Write) -> Result<(), Error> {
    let running = LocalState::running(start);
    let report = StatusReport {
        running: running.is_ok(),
        state: running.as_ref().ok().cloned(),
    };
    crate::output::print(&report, output, out).map_err(Error::Report)?;
    running.map(|_| ()).map_err(Error::NotRunning)
}

fn down(start: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let dir = state_dir(start);
    let state = match LocalState::running(start) {
        Ok(state) => state,
        Err(LocalError::NotRunning { .. }) => {
            return writeln!(out, "no local cloud is running").map_err(Error::Report)
        }
        // Nothing of it runs: its recorded process id may be anyone's now.
        Err(LocalError::Gone { .. }) => {
            LocalState::remove(&dir);
            return writeln!(
                out,
                "no local cloud is running (the state one left behind was removed; no process was signalled)"
            )
            .map_err(Error::Report);
        }
        Err(e) => return Err(e.into()),
    };
    // Signalled only while its lock is held: once the cloud exits, its
    // process id may be reused, and nothing else is ever signalled.
    let signal = |signal| {
        if CloudLock::held(&dir) {
            unsafe { libc::kill(state.pid as libc::pid_t, signal) };
        }
    };
    signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while CloudLock::held(&dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if CloudLock::held(&dir) {
        signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(200));
        if CloudLock::held(&dir) {
            return Err(Error::DidNotStop { pid: state.pid });
        }
    }
    // The lock goes a moment before the process ends: wait for it (only
    // waiting, so a reused id costs at most this wait).
    let deadline = Instant::now() + Duration::from_secs(5);
    while crate::local::alive(state.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // moto goes with its parent (see `spawn_moto`); wait for its port to close.
    let address = state.endpoint.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&address).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    LocalState::remove(&state_dir(start));
    writeln!(out, "local cloud stopped").map_err(Error::Report)
}

/// How `invctl local up` runs the cloud.
struct UpOptions {
    time_scale: u32,
    watch: bool,
    faults: Option<PathBuf>,
    iam: IamMode,
}

/// Starts `invctl local up` in the background, its output to the log, and
/// waits until it is ready.
fn detach_up(start: &Path, options: &UpOptions, out: &mut dyn Write) -> Result<(), Error> {
    if let Ok(state) = LocalState::running(start) {
        return Err(Error::AlreadyRunning {
            endpoint: state.endpoint,
        });
    }
    let dir = state_dir(start);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Start(e.to_string()))?;
    let log_path = dir.join("cloud.log");
    let log = std::fs::File::create(&log_path).map_err(|e| Error::Start(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| Error::Start(e.to_string()))?;
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new(exe)
        .args(["local", "--workspace"])
        .arg(start)
        .arg("up")
        .arg("--time-scale")
        .arg(options.time_scale.to_string())
        .args(["--iam", options.iam.as_str()])
        .args(options.watch.then_some("--watch"))
        .args(options.faults.as_deref().map(|path| {
            let mut flag = std::ffi::OsString::from("--faults=");
            flag.push(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
            flag
        }))
        .env("INVCTL_LOCAL_LOG", &log_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| Error::Start(e.to_string()))?)
        .stderr(log)
        // Its own process group: a Ctrl-C in this terminal is not for it.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Start(e.to_string()))?;
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(state) = LocalState::running(start) {
            writeln!(
                out,
                "local cloud ready: endpoint {} (region {}); its log is {}\nuse it with `invctl --local ...`; stop it with `invctl local down`",
                state.endpoint,
                state.region,
                state.log.display()
            )
            .map_err(Error::Report)?;
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(Error::Start(format!(
                "it exited ({status}):\n{}",
                tail.lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(Error::NotReady {
                seconds: READY_WITHIN.as_secs(),
                log: log_path,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::Start(e.to_string()))
}

/// The invctl source tree that holds the project's venv and the launcher:
/// the one above `start`, else the one `locate_workspace` finds
/// (INVCTL_WORKSPACE, or the tree invctl was built from), so a cloud can
/// belong to any folder.
fn tools_root(start: &Path) -> PathBuf {
    crate::build::find_workspace(start)
        .or_else(|_| crate::build::locate_workspace(None))
        .unwrap_or_else(|_| start.to_owned())
}

/// moto under a shell that stops it when our end of its stdin closes, so
/// it never outlives this process, however this process ends.
fn spawn_moto(
    workspace: &Path,
    port: u16,
    plane: &str,
    time_scale: u32,
    iam: IamMode,
    log: &Path,
) -> Result<tokio::process::Child, Error> {
    let python = workspace.join(".venv/bin/python");
    if !python.is_file() {
        return Err(Error::NoMoto { python });
    }
    let launcher = workspace.join("tools/local/moto_launcher.py");
    let log = std::fs::File::create(log).map_err(|e| Error::Start(e.to_string()))?;
    let mut command = tokio::process::Command::new("sh");
    // The user's own AWS settings (keys, profile, endpoints) are not the
    // local cloud's: its services must never sign with them or use them.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .arg("-c")
        .arg(r#""$@" & pid=$!; read -r _; kill "$pid"; wait "$pid""#)
        .arg("sh")
        .arg(python)
        .arg(launcher)
        .args(["--port", &port.to_string(), "--plane", plane])
        .args(["--time-scale", &time_scale.to_string()])
        .args(["--iam", iam.as_str()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Start(e.to_string()))
}

/// moto's stdout: what the launcher reports happening goes to the console,
/// anything else to moto's log.
fn forward_activity(moto: &mut tokio::process::Child, console: Console, log: &Path) {
    let Some(stdout) = moto.stdout.take() else {
        return;
    };
    let log = std::fs::OpenOptions::new().append(true).open(log).ok();
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut log = log;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut parts = line.splitn(3, '\t');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("invctl-activity"), Some(tone), Some(text)) => match tone {
                    "success" => console.success(text.to_owned()),
                    "failure" => console.failure(text.to_owned()),
                    _ => console.line(text.to_owned()),
                },
                _ => {
                    if let Some(log) = log.as_mut() {
                        let _ = writeln!(log, "{line}");
                    }
                }
            }
        }
    });
}

fn up(
    start: &Path,
    options: &UpOptions,
    faults: &[crate::local::faults::FaultRule],
    out: &mut dyn Write,
) -> Result<(), Error> {
    let UpOptions {
        time_scale,
        watch,
        iam,
        ..
    } = *options;
    if let Ok(state) = LocalState::running(start) {
        return Err(Error::AlreadyRunning {
            endpoint: state.endpoint,
        });
    }
    let dir = state_dir(start);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Start(e.to_string()))?;
    // Held until this function returns: it is what says the cloud runs.
    let Some(_lock) = CloudLock::acquire(&dir).map_err(|e| Error::Start(e.to_string()))? else {
        return Err(Error::AlreadyRunning {
            endpoint: LocalState::running(start)
                .map(|s| s.endpoint)
                .unwrap_or_default(),
        });
    };
    // What a cloud that died left is not this one's.
    LocalState::remove(&dir);
    let workspace = tools_root(start);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Start(e.to_string()))?;
    runtime.block_on(async {
        // stdout is held by the caller (the report); the running log goes to
        // stderr, which is the log file when detached.
        let console = Console::stderr();
        let port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let outbox = crate::local::outbox_file(&dir);
        // A new cloud starts with no mail (moto keeps none across runs either).
        let _ = std::fs::remove_file(&outbox);
        let plane = Plane::start(&endpoint, console.clone(), outbox)
            .await
            .map_err(|e| Error::Start(e.to_string()))?;
        let mut moto = spawn_moto(
            &workspace,
            port,
            &plane.url(),
            time_scale,
            iam,
            &dir.join("moto.log"),
        )?;
        forward_activity(&mut moto, console.clone(), &dir.join("moto.log"));
        let config = crate::local::sdk_config(&endpoint);
        let sts = aws_sdk_sts::Client::new(&config);
        let deadline = Instant::now() + READY_WITHIN;
        while sts.get_caller_identity().send().await.is_err() {
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    seconds: READY_WITHIN.as_secs(),
                    log: dir.join("moto.log"),
                });
            }
            if let Ok(Some(status)) = moto.try_wait() {
                return Err(Error::Start(format!(
                    "moto exited ({status}); see {}",
                    dir.join("moto.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if !faults.is_empty() {
            crate::local::faults::add(&endpoint, faults).map_err(Error::Faults)?;
            console.line(format!("{} fault rule(s) in force", faults.len()));
        }
        let state = LocalState {
            endpoint: endpoint.clone(),
            region: crate::local::REGION.to_owned(),
            plane: plane.url(),
            pid: std::process::id(),
            moto_pid: moto.id().unwrap_or_default(),
            log: std::env::var_os("INVCTL_LOCAL_LOG")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("-")),
            time_scale,
            iam,
        };
        state.write(&dir).map_err(|e| Error::Start(e.to_string()))?;
        writeln!(
            out,
            "local cloud ready: endpoint {endpoint} (region {})\nuse it with `invctl --local ...` (or AWS_ENDPOINT_URL={endpoint} for other AWS tools); Ctrl-C stops it",
            crate::local::REGION
        )
        .map_err(Error::Report)?;
        let _ = out.flush();

        let mut sources = Sources::new(plane.clone(), config.clone(), console.clone(), dir.join("functions"))
            .with_time_scale(time_scale);
        let _watching = if watch {
            let source = crate::build::find_workspace(&workspace)
                .map_err(|_| Error::Start(format!("--watch needs the invctl source tree; {} is not in one", workspace.display())))?;
            Some(
                crate::local::watch::start(source, start.to_owned(), config.clone(), console.clone())
                    .map_err(|e| Error::Start(format!("cannot watch the source tree: {e}")))?,
            )
        } else {
            None
        };
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::Start(e.to_string()))?;
        loop {
            if let Err(e) = sources.sync().await {
                console.failure(format!("cannot read the deployed functions: {e}"));
            }
            console.status(format!(
                "local cloud at {endpoint}: {} · Ctrl-C stops it",
                sources.summary()
            ));
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        console.line("stopping".to_owned());
        plane.stop();
        // Closing its stdin lets the shell stop moto.
        drop(moto.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), moto.wait()).await;
        LocalState::remove(&dir);
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    })
}
