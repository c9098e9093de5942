//! Inventory items and purchase-order requests.

use serde::{Deserialize, Serialize};

/// An Inventory table item, as the check-inventory-level workflow takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    pub name: String,
    pub stock: i64,
    pub threshold: i64,
    pub status: String,
    #[serde(rename = "minPOAmount")]
    pub min_po_amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_purchase_order: Option<String>,
}

/// What the purchase-order email function receives from the workflow.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseOrderRequest {
    pub purchase_order_id: String,
    pub product_id: String,
    pub product_name: String,
    pub requested_quantity: i64,
    pub order_quantity: i64,
    /// Secret: never logged, never shown.
    pub task_token: String,
}

// By hand, so that logging a request can never print its task token.
impl std::fmt::Debug for PurchaseOrderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurchaseOrderRequest")
            .field("purchase_order_id", &self.purchase_order_id)
            .field("product_id", &self.product_id)
            .field("product_name", &self.product_name)
            .field("requested_quantity", &self.requested_quantity)
            .field("order_quantity", &self.order_quantity)
            .field("task_token", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn products_use_the_table_attribute_names() {
        let product = Product {
            id: "p".into(),
            name: "TV".into(),
            stock: 3,
            threshold: 2,
            status: crate::inventory::IN_STOCK.into(),
            min_po_amount: 5,
            pending_purchase_order: None,
        };
        assert_eq!(
            serde_json::to_value(&product).unwrap(),
            json!({"id":"p","name":"TV","stock":3,"threshold":2,"status":"IN STOCK","minPOAmount":5})
        );
    }

    #[test]
    fn debug_output_never_shows_the_task_token() {
        let request: PurchaseOrderRequest = serde_json::from_value(json!({
            "purchaseOrderId": "po-1", "productId": "p", "productName": "TV",
            "requestedQuantity": 1, "orderQuantity": 6, "taskToken": "SECRET-TOKEN"
        }))
        .unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
        assert!(shown.contains("po-1"));
    }
}
