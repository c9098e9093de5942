//! The execution plane: the Lambda Runtime API, as `cargo lambda watch`
//! serves it, and the processes that run each function.
//!
//! A function runs from the `bootstrap` of its deployed zip, as a process
//! per instance (up to [`MAX_INSTANCES`] at once), with its deployed
//! environment and the local endpoint. Each instance polls
//! `{api}/2018-06-01/runtime/invocation/next` under a path of its own
//! (`AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:PORT/fn/NAME/INSTANCE`), so the plane
//! knows which instance holds which invocation: one that outlives the
//! function's timeout is answered with Lambda's timeout error and its
//! instance is killed; an instance that exits mid-invocation is a function
//! error, and one whose resident memory passes the function's memory
//! setting is stopped with Lambda's `Runtime.OutOfMemory`. Invocations
//! come from the event-source pollers and, through the launcher, from
//! moto's Invoke API and the Step Functions interpreter (`POST /invoke/NAME`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot};

use super::console::Console;

/// Instances a function may run at once (Lambda's concurrency, scaled to a laptop).
pub const MAX_INSTANCES: usize = 4;

/// A function as the plane runs it: what the deployed configuration says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionConfig {
    pub name: String,
    pub arn: String,
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: i32,
    /// The deployed code's sha256, as Lambda reports it.
    pub code_sha256: String,
    /// The unpacked `bootstrap`.
    pub bootstrap: PathBuf,
    pub log_group: String,
    /// A session of the function's execution role, as Lambda hands it to
    /// the function; the plane also writes its logs with it. None: the
    /// account's own keys (no role to act as).
    pub credentials: Option<aws_credential_types::Credentials>,
}

pub use super::Outcome;

struct Invocation {
    id: String,
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
    /// A `crash` fault: the instance that takes it is killed mid-invocation.
    crash: bool,
}

struct InFlight {
    reply: oneshot::Sender<Outcome>,
    instance: u32,
    /// A `crash` fault: the instance dies before its answer gets out.
    crash: bool,
}

struct Function {
    config: FunctionConfig,
    queue: mpsc::UnboundedSender<Invocation>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// Instance id to its process (killed when dropped).
    instances: Mutex<HashMap<u32, tokio::process::Child>>,
    /// Instances waiting in `next`.
    idle: AtomicUsize,
    /// Replaced by a reload: its instances finish what they hold, take
    /// nothing new, and stop.
    retired: AtomicBool,
}

/// The running plane: its address and the functions it runs.
#[derive(Clone)]
pub struct Plane {
    inner: Arc<Inner>,
}

struct Inner {
    address: SocketAddr,
    /// moto, for the functions' AWS calls.
    endpoint: String,
    /// Where function output is kept, as Lambda keeps it.
    logs: aws_sdk_cloudwatchlogs::Client,
    functions: Mutex<HashMap<String, Arc<Function>>>,
    /// Functions replaced by a reload whose instances still hold invocations.
    retired: Mutex<Vec<Arc<Function>>>,
    /// Instance ids, unique for the plane's life, so an old instance's
    /// answer never reaches the instance that took its number.
    instance_ids: AtomicU32,
    console: Console,
    invocation_ids: AtomicU32,
    /// Where email subscriptions deliver (see [`super::outbox`]).
    outbox: PathBuf,
    /// Function name to the URL its Function URL is served at.
    function_urls: tokio::sync::Mutex<HashMap<String, String>>,
    /// The first path segment of every request the launcher makes (invoke,
    /// mail, Function URLs): no other local process or web page knows it.
    secret: String,
    /// Each instance's own key, in its Runtime API path: an instance (or
    /// anything else) cannot take another's invocations and task tokens.
    instance_keys: Mutex<HashMap<u32, String>>,
}

/// The largest request body the plane takes: Lambda's 6 MB payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// 16 random bytes from the operating system, as hex.
fn random_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn error_document(kind: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": kind, "errorMessage": message}).to_string())
}

fn millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

impl Plane {
    /// Starts serving on a free loopback port; mail goes to `outbox`.
    pub async fn start(
        endpoint: &str,
        console: Console,
        outbox: PathBuf,
    ) -> std::io::Result<Plane> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let plane = Plane {
            inner: Arc::new(Inner {
                address: listener.local_addr()?,
                endpoint: endpoint.to_owned(),
                logs: aws_sdk_cloudwatchlogs::Client::new(&super::account::sdk_config(endpoint)),
                functions: Mutex::new(HashMap::new()),
                retired: Mutex::new(Vec::new()),
                instance_ids: AtomicU32::new(0),
                console,
                invocation_ids: AtomicU32::new(0),
                outbox,
                function_urls: tokio::sync::Mutex::new(HashMap::new()),
                secret: random_key(),
                instance_keys: Mutex::new(HashMap::new()),
            }),
        };
        let serving = plane.clone();
        serve(listener, move |request, _| {
            let plane = serving.clone();
            async move { plane.route(request).await }
        });
        Ok(plane)
    }

    /// The URL `name`'s Function URL is served at, on a port of its own,
    /// opened on first asking (the launcher asks when moto creates the URL).
    pub async fn function_url(&self, name: &str) -> std::io::Result<String> {
        let mut urls = self.inner.function_urls.lock().await;
        if let Some(url) = urls.get(name) {
            return Ok(url.clone());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let plane = self.clone();
        let function = name.to_owned();
        serve(listener, move |request, peer| {
            let (plane, function) = (plane.clone(), function.clone());
            async move { plane.serve_function_url(&function, request, peer).await }
        });
        urls.insert(name.to_owned(), url.clone());
        Ok(url)
    }

    async fn serve_function_url(
        &self,
        name: &str,
        request: Request<Bytes>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = std::time::Instant::now();
        let (parts, body) = request.into_parts();
        let request_id = format!(
            "{:08x}-url-{:08x}",
            std::process::id(),
            self.inner.invocation_ids.fetch_add(1, Ordering::Relaxed)
        );
        let event = super::function_url::event(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
            &peer.ip().to_string(),
            &request_id,
            SystemTime::now(),
        );
        // Lambda checks the URL's auth type and the function's resource
        // policy before it invokes anything.
        let outcome = match super::iam::function_url_denied(&self.inner.endpoint, name).await {
            Some(denied) => {
                self.inner
                    .console
                    .failure(format!("{name}: Function URL request refused: {denied}"));
                None
            }
            None => self.invoke(name, Bytes::from(event.to_string())).await,
        };
        let response = super::function_url::response(outcome);
        // The path only: a query may carry a secret.
        let line = format!(
            "{name}: {} {} -> {} in {} ms",
            parts.method,
            parts.uri.path(),
            response.status().as_u16(),
            started.elapsed().as_millis()
        );
        if response.status().is_server_error() {
            self.inner.console.failure(line);
        } else {
            self.inner.console.line(line);
        }
        response
    }

    /// A message an email subscription delivered, put in the outbox.
    fn deliver_mail(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(body) else {
            return respond(StatusCode::BAD_REQUEST, Bytes::new());
        };
        let field = |name: &str| message[name].as_str().unwrap_or_default().to_owned();
        let mail =
            super::outbox::Mail::now(field("to"), field("subject"), field("body"), field("topic"));
        match super::outbox::append(&self.inner.outbox, &mail) {
            Ok(()) => {
                self.inner
                    .console
                    .success(format!("mail to {}: {}", mail.to, mail.subject));
                respond(StatusCode::ACCEPTED, Bytes::new())
            }
            Err(e) => {
                self.inner
                    .console
                    .failure(format!("mail to {} not kept: {e}", mail.to));
                respond(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new())
            }
        }
    }

    /// Where AWS requests go (the launcher, in front of moto).
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// `http://127.0.0.1:PORT/SECRET`: the launcher's way in.
    pub fn url(&self) -> String {
        format!("http://{}/{}", self.inner.address, self.inner.secret)
    }

    /// The functions it runs, by name, with their deployed code's sha256.
    pub fn loaded(&self) -> HashMap<String, String> {
        self.inner
            .functions
            .lock()
            .unwrap()
            .iter()
            .map(|(name, f)| (name.clone(), f.config.code_sha256.clone()))
            .collect()
    }

    /// Runs `config` from now on, as Lambda does after a code or
    /// configuration update: new invocations (and those still queued) go to
    /// new instances, while the old instances finish what they hold, their
    /// answers reaching their callers, and stop once idle.
    pub fn load(&self, config: FunctionConfig) {
        let (queue, next) = mpsc::unbounded_channel();
        let function = Arc::new(Function {
            config,
            queue,
            next: tokio::sync::Mutex::new(next),
            in_flight: Mutex::new(HashMap::new()),
            instances: Mutex::new(HashMap::new()),
            idle: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
        });
        let name = function.config.name.clone();
        let replaced = self
            .inner
            .functions
            .lock()
            .unwrap()
            .insert(name, function.clone());
        if let Some(old) = replaced {
            self.retire(old, Some(&function));
        }
    }

    /// Takes `old` out of service: what waits in its queue moves to
    /// `successor` (or fails, with none), its idle instances stop now and
    /// its busy ones once they answer.
    fn retire(&self, old: Arc<Function>, successor: Option<&Arc<Function>>) {
        old.retired.store(true, Ordering::SeqCst);
        self.forward_queued(&old, successor.cloned());
        {
            let busy: Vec<u32> = old
                .in_flight
                .lock()
                .unwrap()
                .values()
                .map(|f| f.instance)
                .collect();
            // Dropping a handle kills its process.
            old.instances
                .lock()
                .unwrap()
                .retain(|id, _| busy.contains(id));
        }
        let mut retired = self.inner.retired.lock().unwrap();
        retired.retain(|f| !f.instances.lock().unwrap().is_empty());
        if !old.instances.lock().unwrap().is_empty() {
            retired.push(old);
        }
    }

    /// Moves what waits in `old`'s queue to `successor` (drops it, with
    /// none; the caller then fails at once). An idle instance of `old` may
    /// hold the queue for up to [`retirement`]'s tick, so this waits for it.
    fn forward_queued(&self, old: &Arc<Function>, successor: Option<Arc<Function>>) {
        let plane = self.clone();
        let queued = old.clone();
        tokio::spawn(async move {
            let mut queue = queued.next.lock().await;
            while let Ok(waiting) = queue.try_recv() {
                match &successor {
                    Some(new) => {
                        if new.idle.load(Ordering::SeqCst) == 0
                            && new.instances.lock().unwrap().len() < MAX_INSTANCES
                        {
                            plane.spawn_instance(new);
                        }
                        let _ = new.queue.send(waiting);
                    }
                    None => drop(waiting),
                }
            }
        });
    }

    /// Stops every function's instances.
    pub fn stop(&self) {
        self.inner.functions.lock().unwrap().clear();
        self.inner.retired.lock().unwrap().clear();
    }

    /// Stops running a function that is no longer deployed.
    pub fn unload(&self, name: &str) {
        let removed = self.inner.functions.lock().unwrap().remove(name);
        if let Some(old) = removed {
            self.retire(old, None);
        }
    }

    /// The function (current or retired) that runs instance `instance` of `name`.
    fn owner(&self, name: &str, instance: u32) -> Option<Arc<Function>> {
        let owns = |f: &Arc<Function>| {
            f.config.name == name && f.instances.lock().unwrap().contains_key(&instance)
        };
        if let Some(current) = self.function(name).filter(owns) {
            return Some(current);
        }
        self.inner
            .retired
            .lock()
            .unwrap()
            .iter()
            .find(|f| owns(f))
            .cloned()
    }

    fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.inner.functions.lock().unwrap().get(name).cloned()
    }

    /// Invokes `name` with `payload` and waits for the outcome, as Lambda's
    /// RequestResponse invocation does; `None` when no such function runs.
    pub async fn invoke(&self, name: &str, payload: Bytes) -> Option<Outcome> {
        self.invoke_with(name, payload, false).await
    }

    /// [`Plane::invoke`], where with `crash` the instance that takes the
    /// invocation is killed while it runs (at a random point in its first
    /// tenth of a second), as a sandbox can die on Lambda.
    pub async fn invoke_with(&self, name: &str, payload: Bytes, crash: bool) -> Option<Outcome> {
        let function = self.function(name)?;
        let (reply, outcome) = oneshot::channel();
        let id = format!(
            "{:08x}-local-{:08x}",
            std::process::id(),
            self.inner.invocation_ids.fetch_add(1, Ordering::Relaxed)
        );
        if function.idle.load(Ordering::SeqCst) == 0
            && function.instances.lock().unwrap().len() < MAX_INSTANCES
        {
            self.spawn_instance(&function);
        }
        function
            .queue
            .send(Invocation {
                id,
                payload,
                reply,
                crash,
            })
            .ok()?;
        // Retired between the lookup and the send: what retirement forwarded
        // may have missed this one.
        if function.retired.load(Ordering::SeqCst) {
            self.forward_queued(&function, self.function(name));
        }
        // An invocation that no instance took in time fails like a timeout.
        let limit = function.config.timeout + Duration::from_secs(30);
        match tokio::time::timeout(limit, outcome).await {
            Ok(Ok(outcome)) => Some(outcome),
            _ => Some(Outcome::Error {
                kind: "Unhandled",
                body: error_document("Sandbox.Timedout", "Task timed out: no instance answered"),
            }),
        }
    }

    /// [`Plane::invoke`] for a caller the console cannot otherwise show (the
    /// Invoke API, a workflow's task): one line with the result and time.
    async fn invoke_reported(&self, name: &str, payload: Bytes) -> Option<Outcome> {
        let started = std::time::Instant::now();
        let outcome = self.invoke(name, payload).await;
        let millis = started.elapsed().as_millis();
        match &outcome {
            Some(Outcome::Response(_)) => self
                .inner
                .console
                .success(format!("{name}: invoked, answered in {millis} ms")),
            Some(Outcome::Error { body, .. }) => {
                let error: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                self.inner.console.failure(format!(
                    "{name}: invoked, failed in {millis} ms: {} {}",
                    error["errorType"].as_str().unwrap_or("error"),
                    error["errorMessage"].as_str().unwrap_or_default()
                ));
            }
            None => {}
        }
        outcome
    }

    fn spawn_instance(&self, function: &Arc<Function>) {
        let config = &function.config;
        let instance = self.inner.instance_ids.fetch_add(1, Ordering::Relaxed);
        let key = random_key();
        // A scheme is needed for the runtime client to accept a path.
        let api = format!(
            "http://{}/fn/{}/{instance}/{key}",
            self.inner.address, config.name
        );
        self.inner
            .instance_keys
            .lock()
            .unwrap()
            .insert(instance, key);
        let mut command = tokio::process::Command::new(&config.bootstrap);
        command
            .env_clear()
            .envs(config.environment.iter().map(|(k, v)| (k, v)))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &config.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", &config.log_group)
            .env("AWS_REGION", super::account::REGION)
            .env("AWS_DEFAULT_REGION", super::account::REGION)
            // Its role's session: the launcher checks each call against
            // the role's policies and knows which function calls.
            .env(
                "AWS_ACCESS_KEY_ID",
                config
                    .credentials
                    .as_ref()
                    .map_or(super::account::ACCESS_KEY, |c| c.access_key_id()),
            )
            .env(
                "AWS_SECRET_ACCESS_KEY",
                config
                    .credentials
                    .as_ref()
                    .map_or(super::account::SECRET_KEY, |c| c.secret_access_key()),
            )
            .envs(
                config
                    .credentials
                    .as_ref()
                    .and_then(|c| c.session_token())
                    .map(|token| ("AWS_SESSION_TOKEN", token)),
            )
            .env("AWS_ENDPOINT_URL", &self.inner.endpoint)
            .env("_HANDLER", "bootstrap")
            .env(
                "LAMBDA_TASK_ROOT",
                config.bootstrap.parent().unwrap_or(Path::new(".")),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.inner.console.failure(format!(
                    "{}: cannot start {}: {e}",
                    config.name,
                    config.bootstrap.display()
                ));
                return;
            }
        };
        let shipped = self.ship_logs(config, instance);
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let console = self.inner.console.clone();
            let name = config.name.clone();
            let shipped = shipped.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    console.function_log(&name, &line);
                    let _ = shipped.send(line);
                }
            });
        }
        function.instances.lock().unwrap().insert(instance, child);
        // Watch for the instance's end: what it held fails as Lambda reports it.
        let watched = Arc::downgrade(function);
        let memory_limit = u64::try_from(config.memory_mb).unwrap_or(0) * 1024 * 1024;
        tokio::spawn(async move {
            // Set when the instance was stopped for using more than its memory.
            let mut out_of_memory = None;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let Some(function) = watched.upgrade() else {
                    return;
                };
                let status = {
                    let mut instances = function.instances.lock().unwrap();
                    let Some(child) = instances.get_mut(&instance) else {
                        return;
                    };
                    match child.try_wait() {
                        Ok(Some(status)) => {
                            instances.remove(&instance);
                            status
                        }
                        _ => {
                            // Lambda stops a sandbox that outgrows its memory
                            // setting; a process can be watched only this
                            // coarsely (a spike between looks goes unseen).
                            let used = child.id().and_then(resident_bytes).unwrap_or(0);
                            if out_of_memory.is_none() && memory_limit > 0 && used > memory_limit {
                                out_of_memory = Some(used);
                                let _ = child.start_kill();
                            }
                            continue;
                        }
                    }
                };
                let held: Vec<(String, InFlight)> = {
                    let mut in_flight = function.in_flight.lock().unwrap();
                    let ids: Vec<String> = in_flight
                        .iter()
                        .filter(|(_, f)| f.instance == instance)
                        .map(|(id, _)| id.clone())
                        .collect();
                    ids.into_iter()
                        .filter_map(|id| in_flight.remove(&id).map(|f| (id, f)))
                        .collect()
                };
                let exited = |id: &str| {
                    Outcome::Error {
                    kind: "Unhandled",
                    body: match out_of_memory {
                        Some(used) => error_document(
                            "Runtime.OutOfMemory",
                            &format!(
                                "RequestId: {id} Error: Runtime exited with error: signal: killed (it used {} MB of its {} MB)",
                                used / (1024 * 1024),
                                memory_limit / (1024 * 1024)
                            ),
                        ),
                        None => error_document(
                            "Runtime.ExitError",
                            &format!("RequestId: {id} Error: Runtime exited with error: {status}"),
                        ),
                    },
                }
                };
                for (id, flight) in held {
                    let _ = flight.reply.send(exited(&id));
                }
                // With no instance left (one that dies on start, say), what
                // waits would wait for nothing: it fails as on Lambda, and
                // the next invocation starts a fresh instance.
                if function.instances.lock().unwrap().is_empty() {
                    if let Ok(mut queue) = function.next.try_lock() {
                        while let Ok(waiting) = queue.try_recv() {
                            let _ = waiting.reply.send(exited(&waiting.id));
                        }
                    }
                }
                return;
            }
        });
    }

    /// A sender of an instance's output lines to the function's log group,
    /// in a stream of the instance's own (`YYYY/MM/DD/[$LATEST]local-N`),
    /// put in batches every half second.
    fn ship_logs(&self, config: &FunctionConfig, instance: u32) -> mpsc::UnboundedSender<String> {
        let (lines, mut received) = mpsc::unbounded_channel::<String>();
        // Lambda writes a function's logs with its execution role.
        let logs = match &config.credentials {
            Some(credentials) => aws_sdk_cloudwatchlogs::Client::from_conf(
                self.inner
                    .logs
                    .config()
                    .to_builder()
                    .credentials_provider(credentials.clone())
                    .build(),
            ),
            None => self.inner.logs.clone(),
        };
        let group = config.log_group.clone();
        let days = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 86_400;
        let stream = format!("{days}/[$LATEST]local-{instance}");
        tokio::spawn(async move {
            let _ = logs
                .create_log_stream()
                .log_group_name(&group)
                .log_stream_name(&stream)
                .send()
                .await;
            let mut open = true;
            while open {
                let mut batch = Vec::new();
                let window = tokio::time::sleep(Duration::from_millis(500));
                tokio::pin!(window);
                loop {
                    tokio::select! {
                        line = received.recv() => match line {
                            Some(line) => batch.push(line),
                            None => { open = false; break; }
                        },
                        _ = &mut window => break,
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                let at = millis(SystemTime::now()) as i64;
                let events = batch.into_iter().filter_map(|message| {
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(at)
                        .message(message)
                        .build()
                        .ok()
                });
                let _ = logs
                    .put_log_events()
                    .log_group_name(&group)
                    .log_stream_name(&stream)
                    .set_log_events(Some(events.collect()))
                    .send()
                    .await;
            }
        });
        lines
    }

    async fn route(&self, request: Request<Bytes>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let body = request.into_body();
        let segments = match segments.as_slice() {
            // An instance's Runtime API, under its own key.
            ["fn", name, instance, key, "2018-06-01", "runtime", rest @ ..] => {
                let instance: u32 = instance.parse().unwrap_or(u32::MAX);
                let known = self
                    .inner
                    .instance_keys
                    .lock()
                    .unwrap()
                    .get(&instance)
                    .cloned();
                if known.as_deref() != Some(*key) {
                    return respond(StatusCode::NOT_FOUND, Bytes::new());
                }
                let Some(function) = self.owner(name, instance) else {
                    return respond(StatusCode::NOT_FOUND, Bytes::new());
                };
                return self
                    .runtime_api(&function, instance, method, rest, body)
                    .await;
            }
            // The launcher's requests, under the plane's secret.
            [secret, rest @ ..] if *secret == self.inner.secret => rest.to_vec(),
            _ => return respond(StatusCode::NOT_FOUND, Bytes::new()),
        };
        match (method, segments.as_slice()) {
            (Method::POST, ["mail"]) => self.deliver_mail(&body),
            (Method::POST, ["function-urls", name]) => match self.function_url(name).await {
                Ok(url) => respond(
                    StatusCode::OK,
                    Bytes::from(serde_json::json!({ "url": url }).to_string()),
                ),
                Err(e) => respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Bytes::from(e.to_string()),
                ),
            },
            (Method::POST, ["invoke", name]) => match self.invoke_reported(name, body).await {
                Some(Outcome::Response(payload)) => respond(StatusCode::OK, payload),
                Some(Outcome::Error { kind, body }) => {
                    let mut response = respond(StatusCode::OK, body);
                    response.headers_mut().insert(
                        "X-Amz-Function-Error",
                        hyper::header::HeaderValue::from_static(kind),
                    );
                    response
                }
                None => respond(
                    StatusCode::NOT_FOUND,
                    error_document(
                        "ResourceNotFoundException",
                        &format!("Function not found: {name}"),
                    ),
                ),
            },
            _ => respond(StatusCode::NOT_FOUND, Bytes::new()),
        }
    }

    async fn runtime_api(
        &self,
        function: &Arc<Function>,
        instance: u32,
        method: Method,
        path: &[&str],
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        match (method, path) {
            (Method::GET, ["invocation", "next"]) => {
                if function.retired.load(Ordering::SeqCst) {
                    // Replaced while it ran: it takes nothing new and stops.
                    function.instances.lock().unwrap().remove(&instance);
                    return respond(StatusCode::GONE, Bytes::new());
                }
                function.idle.fetch_add(1, Ordering::SeqCst);
                let next = loop {
                    let taken = tokio::select! {
                        taken = async { function.next.lock().await.recv().await } => taken,
                        _ = retirement(function) => None,
                    };
                    match taken {
                        // Its caller gave up waiting: Lambda would not run it either.
                        Some(invocation) if invocation.reply.is_closed() => {
                            self.inner.console.failure(format!(
                                "{}: invocation {} dropped: its caller stopped waiting",
                                function.config.name, invocation.id
                            ));
                        }
                        other => break other,
                    }
                };
                function.idle.fetch_sub(1, Ordering::SeqCst);
                let Some(invocation) = next else {
                    if function.retired.load(Ordering::SeqCst) {
                        function.instances.lock().unwrap().remove(&instance);
                    }
                    return respond(StatusCode::GONE, Bytes::new());
                };
                // As on Lambda, the timeout counts from when the function
                // gets the event, not from when it was queued.
                let deadline = SystemTime::now() + function.config.timeout;
                function.in_flight.lock().unwrap().insert(
                    invocation.id.clone(),
                    InFlight {
                        reply: invocation.reply,
                        instance,
                        crash: invocation.crash,
                    },
                );
                self.watch_deadline(function, &invocation.id, instance, deadline);
                if invocation.crash {
                    // Killed at a random point of the handler's work (which
                    // may have written something by then), or as it answers.
                    let function = Arc::downgrade(function);
                    let after = Duration::from_millis(fastrand::u64(0..100));
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        if let Some(function) = function.upgrade() {
                            kill_instance(&function, instance);
                        }
                    });
                }
                let mut response = respond(StatusCode::OK, invocation.payload);
                let headers = response.headers_mut();
                let value = |v: String| hyper::header::HeaderValue::from_str(&v).expect("ASCII");
                headers.insert("Lambda-Runtime-Aws-Request-Id", value(invocation.id));
                headers.insert(
                    "Lambda-Runtime-Deadline-Ms",
                    value(millis(deadline).to_string()),
                );
                headers.insert(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    value(function.config.arn.clone()),
                );
                headers.insert(
                    "Lambda-Runtime-Trace-Id",
                    value(format!(
                        "Root=1-{:08x}-local",
                        millis(SystemTime::now()) as u32
                    )),
                );
                response
            }
            (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
                let (flight, crashing) = {
                    let mut in_flight = function.in_flight.lock().unwrap();
                    match in_flight.get(*id) {
                        // A crashing instance never gets its answer out: the
                        // watch on its exit fails the invocation.
                        Some(flight) if flight.crash => (None, true),
                        Some(_) => (in_flight.remove(*id), false),
                        None => (None, false),
                    }
                };
                if crashing {
                    kill_instance(function, instance);
                }
                if let Some(flight) = flight {
                    let outcome = if *kind == "response" {
                        Outcome::Response(body)
                    } else {
                        Outcome::Error {
                            kind: "Unhandled",
                            body,
                        }
                    };
                    let _ = flight.reply.send(outcome);
                }
                respond(StatusCode::ACCEPTED, Bytes::new())
            }
            (Method::POST, ["init", "error"]) => {
                self.inner.console.failure(format!(
                    "{}: failed to start: {}",
                    function.config.name,
                    String::from_utf8_lossy(&body)
                ));
                respond(StatusCode::ACCEPTED, Bytes::new())
            }
            _ => respond(StatusCode::NOT_FOUND, Bytes::new()),
        }
    }

    /// At `deadline`, an invocation still held fails with Lambda's timeout
    /// error and its instance is stopped (a process cannot be interrupted
    /// mid-handler any other way).
    fn watch_deadline(
        &self,
        function: &Arc<Function>,
        id: &str,
        instance: u32,
        deadline: SystemTime,
    ) {
        let function = Arc::downgrade(function);
        let id = id.to_owned();
        tokio::spawn(async move {
            let wait = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
            let Some(function) = function.upgrade() else {
                return;
            };
            let Some(flight) = function.in_flight.lock().unwrap().remove(&id) else {
                return;
            };
            let seconds = function.config.timeout.as_secs_f64();
            let _ = flight.reply.send(Outcome::Error {
                kind: "Unhandled",
                body: error_document(
                    "Sandbox.Timedout",
                    &format!("RequestId: {id} Error: Task timed out after {seconds:.2} seconds"),
                ),
            });
            // Dropping the handle kills the process.
            function.instances.lock().unwrap().remove(&instance);
        });
    }
}

/// Kills an instance's process; the watch on its exit answers what it held.
fn kill_instance(function: &Function, instance: u32) {
    if let Some(child) = function.instances.lock().unwrap().get_mut(&instance) {
        let _ = child.start_kill();
    }
}

/// Resolves once `function` is retired (checked every 100 ms: a retired
/// function's idle instances must not hold `next` for ever).
async fn retirement(function: &Function) {
    while !function.retired.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a request's Host names this listener itself (`127.0.0.1:PORT`
/// or `localhost:PORT`): a web page that got a name of its own resolved to
/// loopback (DNS rebinding) sends its own name, and is refused.
fn addressed_here(request: &Request<Incoming>, local: SocketAddr) -> bool {
    let port = local.port();
    request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}")
        })
}

/// The request with its body read, at most [`MAX_BODY_BYTES`]; or the
/// answer to give instead.
async fn read_request(
    request: Request<Incoming>,
    local: SocketAddr,
) -> Result<Request<Bytes>, Response<Full<Bytes>>> {
    if !addressed_here(&request, local) {
        return Err(respond(
            StatusCode::MISDIRECTED_REQUEST,
            Bytes::from_static(b"this server answers requests to 127.0.0.1 or localhost only"),
        ));
    }
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(Request::from_parts(parts, collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            error_document(
                "RequestEntityTooLargeException",
                &format!("Request must be smaller than {MAX_BODY_BYTES} bytes"),
            ),
        )),
        Err(_) => Err(respond(StatusCode::BAD_REQUEST, Bytes::new())),
    }
}

/// Serves HTTP/1.1 on `listener`, each request addressed to it with a body
/// within the limit answered by `handle` (given the request and the peer's
/// address).
fn serve<H, F>(listener: tokio::net::TcpListener, handle: H)
where
    H: Fn(Request<Bytes>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let Ok(local) = listener.local_addr() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let handle = handle.clone();
                    async move {
                        let response = match read_request(request, local).await {
                            Ok(request) => handle(request, peer).await,
                            Err(refused) => refused,
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// A process's resident memory, from `/proc` (None where there is none).
fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

fn respond(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}
