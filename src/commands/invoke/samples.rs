//! The event each function gets when the stack runs it, made from the
//! deployed stack's own resources: the orders queue's ARN, the inventory
//! table's stream and one of its products, the approval function's URL.
//! The queue and stream events are built by the same code that delivers
//! them on the local cloud, so a sample is what the function really sees.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types as streams;
use inventory_domain::{inventory, NewOrder};
use md5::Digest;
use serde_json::{json, Value};

/// A random id in the form SQS and Lambda use (8-4-4-4-12 hex digits).
pub fn uuid_like(rng: &mut fastrand::Rng) -> String {
    let hex = format!("{:016x}{:016x}", rng.u64(..), rng.u64(..));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The MD5 of `bytes` in hex, as SQS reports a body's.
fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What reserve-stock gets: the orders queue's delivery of one order (the
/// bus rule puts the event's detail on the queue).
pub fn queued_order(
    queue_arn: &str,
    order: &NewOrder,
    rng: &mut fastrand::Rng,
    at: SystemTime,
) -> Value {
    let body = serde_json::to_string(order).expect("an order serializes");
    let account = queue_arn.split(':').nth(4).unwrap_or_default();
    let sent = millis(at).to_string();
    let message = aws_sdk_sqs::types::Message::builder()
        .message_id(uuid_like(rng))
        .receipt_handle(format!("sample-{}", uuid_like(rng)))
        .md5_of_body(md5_hex(body.as_bytes()))
        .body(body)
        .attributes(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            "1",
        )
        .attributes(
            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            &sent,
        )
        .attributes(
            aws_sdk_sqs::types::MessageSystemAttributeName::SenderId,
            account,
        )
        .attributes(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
            &sent,
        )
        .build();
    crate::local::sources::sqs::sqs_event(queue_arn, &[message])
}

/// A DynamoDB item as a stream record carries it.
fn stream_item(item: &HashMap<String, AttributeValue>) -> HashMap<String, streams::AttributeValue> {
    item.iter()
        .map(|(k, v)| (k.clone(), stream_value(v)))
        .collect()
}

fn stream_value(value: &AttributeValue) -> streams::AttributeValue {
    use streams::AttributeValue as S;
    match value {
        AttributeValue::S(s) => S::S(s.clone()),
        AttributeValue::N(n) => S::N(n.clone()),
        AttributeValue::Bool(b) => S::Bool(*b),
        AttributeValue::Null(n) => S::Null(*n),
        AttributeValue::B(b) => S::B(aws_sdk_dynamodbstreams::primitives::Blob::new(b.as_ref())),
        AttributeValue::Ss(v) => S::Ss(v.clone()),
        AttributeValue::Ns(v) => S::Ns(v.clone()),
        AttributeValue::Bs(v) => S::Bs(
            v.iter()
                .map(|b| aws_sdk_dynamodbstreams::primitives::Blob::new(b.as_ref()))
                .collect(),
        ),
        AttributeValue::L(items) => S::L(items.iter().map(stream_value).collect()),
        AttributeValue::M(map) => S::M(stream_item(map)),
        _ => S::Null(true),
    }
}

/// What inventory-stream gets: the stream's record of `product` as it is
/// now, one unit of stock ago (as a reservation leaves it).
pub fn stock_change(
    stream_arn: &str,
    product: &HashMap<String, AttributeValue>,
    rng: &mut fastrand::Rng,
    at: SystemTime,
) -> Value {
    let region = stream_arn.split(':').nth(3).unwrap_or_default();
    let mut before = product.clone();
    if let Some(AttributeValue::N(stock)) = product.get(inventory::STOCK) {
        let stock: i64 = stock.parse().unwrap_or(0);
        before.insert(
            inventory::STOCK.to_owned(),
            AttributeValue::N((stock + 1).to_string()),
        );
    }
    let keys: HashMap<String, AttributeValue> = product
        .get(inventory::ID)
        .map(|id| (inventory::ID.to_owned(), id.clone()))
        .into_iter()
        .collect();
    let size: i64 = [&keys, product, &before]
        .iter()
        .flat_map(|item| item.iter())
        .map(|(k, v)| (k.len() + format!("{v:?}").len()) as i64)
        .sum();
    let change = streams::StreamRecord::builder()
        .approximate_creation_date_time(aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(
            (millis(at) / 1000) as i64,
        ))
        .set_keys(Some(stream_item(&keys)))
        .set_new_image(Some(stream_item(product)))
        .set_old_image(Some(stream_item(&before)))
        .sequence_number(format!("{:021}", rng.u64(..) / 1000))
        .size_bytes(size)
        .stream_view_type(streams::StreamViewType::NewAndOldImages)
        .build();
    let record = streams::Record::builder()
        .event_id(uuid_like(rng).replace('-', ""))
        .event_name(streams::OperationType::Modify)
        .event_version("1.1")
        .event_source("aws:dynamodb")
        .aws_region(region)
        .dynamodb(change)
        .build();
    json!({ "Records": [crate::local::stream::record_json(&record, stream_arn)] })
}

/// A product for a sample: the first in stock by id (with stock to take),
/// else the first.
pub fn pick_product(
    items: &[HashMap<String, AttributeValue>],
) -> Option<&HashMap<String, AttributeValue>> {
    let text = |item: &HashMap<String, AttributeValue>, key: &str| match item.get(key) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    let stock = |item: &HashMap<String, AttributeValue>| match item.get(inventory::STOCK) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap_or(0),
        _ => 0,
    };
    let mut sorted: Vec<&HashMap<String, AttributeValue>> = items.iter().collect();
    sorted.sort_by_key(|item| text(item, inventory::ID));
    sorted
        .iter()
        .find(|item| text(item, inventory::STATUS) == inventory::IN_STOCK && stock(item) > 0)
        .or(sorted.first())
        .copied()
}

/// The purchase order id the purchase-order-email and approval samples
/// name: no purchase order has it, so invoking them decides and mails
/// nothing (a real pending id would have its task token replaced).
pub const SAMPLE_PURCHASE_ORDER: &str = "sample-purchase-order";

/// What purchase-order-email gets from the create-purchase-order workflow.
pub fn approval_request(product: &HashMap<String, AttributeValue>) -> Value {
    let text = |key: &str| match product.get(key) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    let minimum = match product.get(inventory::MIN_PO_AMOUNT) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap_or(0),
        _ => 0,
    };
    json!({
        "purchaseOrderId": SAMPLE_PURCHASE_ORDER,
        "productId": text(inventory::ID),
        "productName": text(inventory::NAME),
        "requestedQuantity": 1,
        "orderQuantity": 1 + minimum,
        "taskToken": "sample-task-token",
    })
}

/// What the approval function gets when someone opens a review link: a
/// Function URL GET of the review page.
pub fn review_page_request(function_url: &str, rng: &mut fastrand::Rng, at: SystemTime) -> Value {
    let host = function_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let uri: hyper::Uri = format!("/?po={SAMPLE_PURCHASE_ORDER}&secret=sample-secret")
        .parse()
        .expect("a valid path");
    let mut headers = hyper::HeaderMap::new();
    for (name, value) in [
        ("host", host.as_str()),
        ("user-agent", "invctl"),
        ("accept", "text/html"),
    ] {
        if let Ok(value) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    crate::local::function_url::event(
        &hyper::Method::GET,
        &uri,
        &headers,
        &[],
        "127.0.0.1",
        &uuid_like(rng),
        at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, status: &str, stock: i64) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (inventory::ID.to_owned(), AttributeValue::S(id.to_owned())),
            (
                inventory::NAME.to_owned(),
                AttributeValue::S(id.to_uppercase()),
            ),
            (
                inventory::STATUS.to_owned(),
                AttributeValue::S(status.to_owned()),
            ),
            (
                inventory::STOCK.to_owned(),
                AttributeValue::N(stock.to_string()),
            ),
            (
                inventory::MIN_PO_AMOUNT.to_owned(),
                AttributeValue::N("5".to_owned()),
            ),
        ])
    }

    #[test]
    fn an_order_arrives_as_the_queue_delivers_it() {
        let order = NewOrder {
            order_id: "ord-1".into(),
            product_id: "tv".into(),
            quantity: 1,
        };
        let arn = "arn:aws:sqs:eu-west-1:111122223333:orders";
        let event = queued_order(
            arn,
            &order,
            &mut fastrand::Rng::with_seed(1),
            SystemTime::UNIX_EPOCH,
        );
        let record = &event["Records"][0];
        assert_eq!(record["eventSourceARN"], arn);
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["awsRegion"], "eu-west-1");
        let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"orderId": "ord-1", "productId": "tv", "quantity": 1})
        );
        // What SQS computes for that body.
        assert_eq!(
            record["body"],
            r#"{"orderId":"ord-1","productId":"tv","quantity":1}"#
        );
        assert_eq!(record["md5OfBody"], "e909d64ca3aae69c24fbd1d994dafa72");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(record["attributes"]["SenderId"], "111122223333");
        // reserve-stock's own types read it.
        let parsed: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.records.len(), 1);
    }

    #[test]
    fn a_stock_change_has_the_product_now_and_one_unit_before() {
        let arn =
            "arn:aws:dynamodb:eu-west-1:111122223333:table/inv/stream/2026-12-01T00:00:00.000";
        let event = stock_change(
            arn,
            &product("tv", inventory::IN_STOCK, 4),
            &mut fastrand::Rng::with_seed(2),
            SystemTime::UNIX_EPOCH,
        );
        let record = &event["Records"][0];
        assert_eq!(record["eventName"], "MODIFY");
        assert_eq!(record["eventSourceARN"], arn);
        assert_eq!(record["dynamodb"]["NewImage"]["stock"], json!({"N": "4"}));
        assert_eq!(record["dynamodb"]["OldImage"]["stock"], json!({"N": "5"}));
        assert_eq!(record["dynamodb"]["Keys"], json!({"id": {"S": "tv"}}));
        assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        let parsed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.records.len(), 1);
    }

    #[test]
    fn the_sample_product_is_the_first_with_stock_to_take() {
        let items = [
            product("b", inventory::IN_STOCK, 3),
            product("a", inventory::OUT_OF_STOCK, 0),
            product("c", inventory::IN_STOCK, 9),
        ];
        let picked = pick_product(&items).unwrap();
        assert_eq!(picked[inventory::ID], AttributeValue::S("b".into()));
        let none_in_stock = [
            product("z", inventory::OUT_OF_STOCK, 0),
            product("y", inventory::OUT_OF_STOCK, 0),
        ];
        assert_eq!(
            pick_product(&none_in_stock).unwrap()[inventory::ID],
            AttributeValue::S("y".into())
        );
        assert!(pick_product(&[]).is_none());
    }

    #[test]
    fn the_approval_samples_name_no_real_purchase_order() {
        let request = approval_request(&product("tv", inventory::IN_STOCK, 4));
        assert_eq!(request["purchaseOrderId"], SAMPLE_PURCHASE_ORDER);
        assert_eq!(request["orderQuantity"], 6);
        let parsed: inventory_domain::PurchaseOrderRequest =
            serde_json::from_value(request).unwrap();
        assert_eq!(parsed.product_name, "TV");

        let page = review_page_request(
            "https://abc.lambda-url.eu-west-1.on.aws/",
            &mut fastrand::Rng::with_seed(3),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(page["requestContext"]["http"]["method"], "GET");
        assert_eq!(
            page["requestContext"]["domainName"],
            "abc.lambda-url.eu-west-1.on.aws"
        );
        assert_eq!(page["queryStringParameters"]["po"], SAMPLE_PURCHASE_ORDER);
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid_like(&mut fastrand::Rng::with_seed(4));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
