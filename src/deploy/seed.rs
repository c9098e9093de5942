//! Loading the sample catalog into the Inventory table after a deploy,
//! without overwriting products that exist (their stock is live data).

use inventory_domain::Product;

/// The catalog shipped with invctl (`examples/catalog.json`).
pub const CATALOG: &str = include_str!("../../examples/catalog.json");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the catalog is not valid: {0}")]
    Catalog(String),
    #[error("cannot write product {id} to {table}: {message}")]
    Write {
        id: String,
        table: String,
        message: String,
    },
}

pub fn catalog() -> Result<Vec<Product>, SeedError> {
    serde_json::from_str(CATALOG).map_err(|e| SeedError::Catalog(e.to_string()))
}

/// What seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub added: usize,
    pub kept: usize,
}

/// Puts each product that is not in `table` yet.
pub async fn seed(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    products: &[Product],
) -> Result<Seeded, SeedError> {
    let mut seeded = Seeded::default();
    for product in products {
        let item = serde_dynamo::to_item(product).map_err(|e| SeedError::Catalog(e.to_string()))?;
        let result = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => seeded.added += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                seeded.kept += 1
            }
            Err(e) => {
                return Err(SeedError::Write {
                    id: product.id.clone(),
                    table: table.to_owned(),
                    message: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
                })
            }
        }
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_the_samples_products_with_stable_ids() {
        let products = catalog().unwrap();
        let ids: Vec<&str> = products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            ["tv", "laptop", "keyboard", "mouse", "monitor", "desk", "chair"]
        );
        assert!(products
            .iter()
            .all(|p| p.stock > p.threshold && p.min_po_amount > 0));
    }
}
