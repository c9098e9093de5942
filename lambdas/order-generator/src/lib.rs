//! The order generator: picks a random in-stock product and puts a
//! `new-order-received` event on the stack's bus, as the sample's scheduled
//! generator did.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use inventory_domain::{detail_type, inventory, source, NewOrder};

/// The largest quantity a generated order asks for.
pub const MAX_QUANTITY: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot scan inventory table {table}: {message}")]
    Scan { table: String, message: String },
    #[error("no product in table {0} is IN STOCK with stock above zero")]
    NothingInStock(String),
    #[error("cannot put the order on bus {bus}: {message}")]
    Put { bus: String, message: String },
    #[error(transparent)]
    Config(#[from] lambda_support::MissingEnv),
}

pub struct Generator {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub table: String,
    pub bus: String,
}

impl Generator {
    pub fn from_env(config: &lambda_support::SdkConfig) -> Result<Self, Error> {
        Ok(Generator {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            table: lambda_support::env("INVENTORY_TABLE")?,
            bus: lambda_support::env("EVENT_BUS_NAME")?,
        })
    }

    /// Ids of the products an order can be served from now.
    pub async fn products_in_stock(&self) -> Result<Vec<String>, Error> {
        let pages: Vec<_> = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .filter_expression("#status = :inStock AND #stock > :zero")
            .projection_expression(inventory::ID)
            .expression_attribute_names("#status", inventory::STATUS)
            .expression_attribute_names("#stock", inventory::STOCK)
            .expression_attribute_values(":inStock", AttributeValue::S(inventory::IN_STOCK.into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        let mut ids = Vec::new();
        for item in pages {
            let item = item.map_err(|e| Error::Scan {
                table: self.table.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
            if let Some(AttributeValue::S(id)) = item.get(inventory::ID) {
                ids.push(id.clone());
            }
        }
        // Scan order is not stable; sorting makes the pick depend only on the rng.
        ids.sort();
        Ok(ids)
    }

    /// Generates one order with `rng` and puts it on the bus.
    pub async fn generate(&self, rng: &mut fastrand::Rng) -> Result<NewOrder, Error> {
        let products = self.products_in_stock().await?;
        if products.is_empty() {
            return Err(Error::NothingInStock(self.table.clone()));
        }
        let order = NewOrder {
            order_id: format!("ord-{:016x}{:016x}", rng.u64(..), rng.u64(..)),
            product_id: products[rng.usize(..products.len())].clone(),
            quantity: rng.u32(1..=MAX_QUANTITY),
        };
        self.put(&order).await?;
        tracing::info!(
            order_id = order.order_id,
            product_id = order.product_id,
            quantity = order.quantity,
            "order generated"
        );
        Ok(order)
    }

    async fn put(&self, order: &NewOrder) -> Result<(), Error> {
        let put_error = |message: String| Error::Put {
            bus: self.bus.clone(),
            message,
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(source::ORDERS)
            .detail_type(detail_type::NEW_ORDER_RECEIVED)
            .detail(serde_json::to_string(order).expect("orders serialize"))
            .build();
        let output = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                put_error(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())
            })?;
        // PutEvents reports per-entry failures in a successful response.
        if output.failed_entry_count > 0 {
            let reason = output
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(put_error(reason));
        }
        Ok(())
    }
}
