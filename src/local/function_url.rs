//! Function URLs, served by the plane on a loopback port of their own per
//! function: a request becomes Lambda's Function URL event (payload format
//! 2.0) and the function's answer becomes the HTTP response, as Lambda
//! turns it into one.
//!
//! A port per URL (not a path under one port) keeps `rawPath` what the
//! function sees on AWS, so a page that links or posts to itself works
//! unchanged.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{HeaderMap, Method, Response, StatusCode, Uri};
use serde_json::{json, Map, Value};

use super::Outcome;

/// The request as Lambda hands it to a function behind a Function URL.
pub fn event(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: &str,
    request_id: &str,
    at: SystemTime,
) -> Value {
    let mut joined: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == hyper::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        // Repeated headers are joined with commas, as Lambda does.
        match joined.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                joined.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let raw_query = uri.query().unwrap_or_default();
    let mut query: Map<String, Value> = Map::new();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(key.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                query.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (aws_smithy_types::base64::encode(body), true),
    };
    let epoch_ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let host = joined
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers
                    .get(hyper::header::USER_AGENT)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": httpdate_like(epoch_ms),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// `28/Nov/2026:01:02:03 +0000`, the form Lambda puts in `requestContext.time`.
fn httpdate_like(epoch_ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp((epoch_ms / 1000) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        at.day(),
        &at.month().to_string()[..3],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The HTTP response for a function's outcome: a `{statusCode, headers,
/// cookies, body, isBase64Encoded}` answer is taken apart; any other JSON
/// answer is the body of a 200 `application/json`; a function error is
/// Lambda's 502.
pub fn response(outcome: Option<Outcome>) -> Response<Full<Bytes>> {
    let payload = match outcome {
        Some(Outcome::Response(payload)) => payload,
        Some(Outcome::Error { .. }) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                r#"{"Message":"Internal Server Error"}"#,
            )
        }
        None => return plain(StatusCode::FORBIDDEN, r#"{"Message":"Forbidden"}"#),
    };
    let answer: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    let Some(status) = answer.get("statusCode").and_then(Value::as_u64) else {
        let mut response = Response::new(Full::new(payload));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        return response;
    };
    let body = match answer.get("body") {
        Some(Value::String(text)) if answer["isBase64Encoded"] == true => {
            match aws_smithy_types::base64::decode(text) {
                Ok(bytes) => Bytes::from(bytes),
                Err(_) => {
                    return plain(
                        StatusCode::BAD_GATEWAY,
                        r#"{"Message":"Internal Server Error"}"#,
                    )
                }
            }
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => Bytes::from(other.to_string()),
        None => Bytes::new(),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    if let Some(Value::Object(given)) = answer.get("headers") {
        for (name, value) in given {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if let (Ok(name), Ok(value)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                hyper::header::HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
    }
    if let Some(Value::Array(cookies)) = answer.get("cookies") {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            if let Ok(value) = hyper::header::HeaderValue::from_str(cookie) {
                headers.append(hyper::header::SET_COOKIE, value);
            }
        }
    }
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn at() -> SystemTime {
        // 2026-11-28T01:02:03.456Z
        UNIX_EPOCH + std::time::Duration::from_millis(1_795_827_723_456)
    }

    #[test]
    fn a_request_becomes_the_version_2_event() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:4000".parse().unwrap());
        headers.append("x-seen", "a".parse().unwrap());
        headers.append("x-seen", "b".parse().unwrap());
        headers.insert("cookie", "one=1; two=2".parse().unwrap());
        headers.insert("user-agent", "test".parse().unwrap());
        let uri: Uri = "/review/page?po=PO-1&secret=s%2Fx&po=PO-2".parse().unwrap();
        let event = event(
            &Method::POST,
            &uri,
            &headers,
            b"decision=APPROVED",
            "127.0.0.1",
            "req-1",
            at(),
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/review/page");
        assert_eq!(event["rawQueryString"], "po=PO-1&secret=s%2Fx&po=PO-2");
        assert_eq!(event["queryStringParameters"]["po"], "PO-1,PO-2");
        assert_eq!(event["queryStringParameters"]["secret"], "s/x");
        assert_eq!(event["headers"]["x-seen"], "a,b");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["one=1", "two=2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "test");
        assert_eq!(
            event["requestContext"]["time"],
            "28/Nov/2026:01:02:03 +0000"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_795_827_723_456u64);
        assert_eq!(event["body"], "decision=APPROVED");
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn a_binary_body_is_sent_as_base64() {
        let event = event(
            &Method::POST,
            &"/".parse().unwrap(),
            &HeaderMap::new(),
            &[0xff, 0x00],
            "127.0.0.1",
            "r",
            at(),
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
        assert!(event.get("queryStringParameters").is_none());
    }

    async fn body_of(response: Response<Full<Bytes>>) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[tokio::test]
    async fn a_structured_answer_sets_status_headers_cookies_and_body() {
        let answer = json!({
            "statusCode": 410,
            "headers": {"content-type": "text/html", "cache-control": "no-store"},
            "cookies": ["a=1", "b=2"],
            "body": "<p>gone</p>",
        });
        let response = response(Some(Outcome::Response(Bytes::from(answer.to_string()))));
        assert_eq!(response.status(), StatusCode::GONE);
        assert_eq!(response.headers()["content-type"], "text/html");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(body_of(response).await, b"<p>gone</p>");
    }

    #[tokio::test]
    async fn base64_bodies_are_decoded_and_other_answers_are_json() {
        let answer = json!({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true});
        let decoded = response(Some(Outcome::Response(Bytes::from(answer.to_string()))));
        assert_eq!(body_of(decoded).await, b"hi");
        let bare = response(Some(Outcome::Response(Bytes::from(r#"{"ok":true}"#))));
        assert_eq!(bare.status(), StatusCode::OK);
        assert_eq!(bare.headers()["content-type"], "application/json");
        assert_eq!(body_of(bare).await, br#"{"ok":true}"#);
    }

    #[test]
    fn a_function_error_is_a_502_and_no_function_a_403() {
        let failed = response(Some(Outcome::Error {
            kind: "Unhandled",
            body: Bytes::new(),
        }));
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(response(None).status(), StatusCode::FORBIDDEN);
    }
}
