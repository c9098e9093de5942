//! Headless Chromium for tests, driven through WebDriver (chromedriver) with
//! thirtyfour. Debian's `chromium` and `chromium-driver` packages provide
//! both; the test command (scripts/test.sh) installs them when missing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use thirtyfour::prelude::*;
use thirtyfour::session::http::{Body, HttpClient};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// thirtyfour's HTTP calls to chromedriver, over hyper's client.
#[derive(Clone)]
struct HyperClient(
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
);

impl HyperClient {
    fn new() -> HyperClient {
        HyperClient(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http(),
        )
    }
}

#[async_trait::async_trait]
impl HttpClient for HyperClient {
    async fn send(
        &self,
        request: http::Request<Body<'_>>,
    ) -> WebDriverResult<http::Response<Bytes>> {
        let (mut parts, body) = request.into_parts();
        let body = match body {
            Body::Empty => Bytes::new(),
            Body::Json(json) => {
                parts.headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                Bytes::from(json.to_string())
            }
        };
        let response = self
            .0
            .request(http::Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|e| WebDriverError::HttpError(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| WebDriverError::HttpError(e.to_string()))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }

    async fn new(&self) -> Arc<dyn HttpClient> {
        Arc::new(HyperClient::new())
    }
}

/// A headless Chromium session; chromedriver stops when it is dropped.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

impl Browser {
    pub async fn start() -> Browser {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver (scripts/test.sh, the test command, installs them)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = format!("http://127.0.0.1:{port}");
        let mut capabilities = DesiredCapabilities::chrome();
        capabilities.set_binary(CHROMIUM).unwrap();
        for argument in [
            "--headless=new",
            // Root in a container has no user namespace for the sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ] {
            capabilities.add_arg(argument).unwrap();
        }
        let mut last_error = None;
        for _ in 0..100 {
            match WebDriver::builder(&server, capabilities.clone())
                .client(HyperClient::new())
                .await
            {
                Ok(driver) => {
                    driver
                        .set_implicit_wait_timeout(Duration::from_secs(5))
                        .await
                        .unwrap();
                    return Browser {
                        driver,
                        chromedriver,
                    };
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("chromedriver gave no session: {last_error:?}");
    }
}
