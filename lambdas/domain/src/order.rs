//! Orders as they travel: a `new-order-received` event's detail, queued in
//! SQS, becomes one reserve-stock execution.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The detail of a `new-order-received` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrder {
    pub order_id: String,
    pub product_id: String,
    pub quantity: u32,
}

/// The most units one order may ask for, and one purchase order may request
/// on top of its minimum. The workflows reject more with a reason: nobody
/// should be emailed a purchase order for any number a bus event can carry.
pub const MAX_ORDER_QUANTITY: u32 = 10_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrderMessageError {
    #[error("the message body is not JSON: {0}")]
    NotJson(String),
    #[error("the message body is JSON but not an object")]
    NotAnObject,
}

/// The order carried by an SQS message body: the event's detail (the rule
/// delivers `$.detail`), or a whole EventBridge event whose `detail` is taken.
/// Fields are not checked here: the workflow rejects a malformed order with a
/// reason, so it reaches a clear outcome instead of being retried.
pub fn order_from_message(body: &str) -> Result<Map<String, Value>, OrderMessageError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| OrderMessageError::NotJson(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(OrderMessageError::NotAnObject);
    };
    if object.contains_key("detail-type") {
        if let Some(Value::Object(detail)) = object.remove("detail") {
            return Ok(detail);
        }
    }
    Ok(object)
}

/// A Step Functions execution name for `key` that is the same every time the
/// same key is seen (so a redelivery is recognisable), within the 80
/// characters and the character set names allow.
pub fn execution_name(prefix: &str, key: &str) -> String {
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{readable}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_the_detail_or_the_bare_order() {
        let bare = order_from_message(r#"{"orderId":"o1","productId":"p","quantity":2}"#).unwrap();
        assert_eq!(
            Value::Object(bare),
            json!({"orderId":"o1","productId":"p","quantity":2})
        );
        let event = json!({"version":"0","detail-type":"new-order-received","source":"com.orders","detail":{"orderId":"o2"}});
        let detail = order_from_message(&event.to_string()).unwrap();
        assert_eq!(Value::Object(detail), json!({"orderId":"o2"}));
    }

    #[test]
    fn refuses_what_cannot_be_an_order() {
        assert!(matches!(
            order_from_message("not json"),
            Err(OrderMessageError::NotJson(_))
        ));
        assert_eq!(
            order_from_message("[1,2]"),
            Err(OrderMessageError::NotAnObject)
        );
        assert_eq!(
            order_from_message("\"text\""),
            Err(OrderMessageError::NotAnObject)
        );
    }

    #[test]
    fn execution_names_are_stable_valid_and_distinct() {
        let a = execution_name("order", "o-1");
        assert_eq!(a, execution_name("order", "o-1"));
        assert_ne!(
            a,
            execution_name("order", "o_1"),
            "sanitizing must not merge keys"
        );
        let odd = execution_name("order", &"ä/ b:".repeat(50));
        assert!(odd.len() <= 80, "{odd}");
        assert!(odd
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn new_orders_are_strict() {
        assert!(serde_json::from_value::<NewOrder>(
            json!({"orderId":"o","productId":"p","quantity":1})
        )
        .is_ok());
        for bad in [
            json!({"orderId":"o","productId":"p"}),
            json!({"orderId":"o","productId":"p","quantity":-1}),
            json!({"orderId":"o","productId":"p","quantity":"1"}),
            json!({"orderId":"o","productId":"p","quantity":1,"extra":true}),
        ] {
            assert!(
                serde_json::from_value::<NewOrder>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
