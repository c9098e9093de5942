//! The generator's AWS calls, against moto.

use aws_sdk_dynamodb::types::AttributeValue;
use order_generator::{Error, Generator, MAX_QUANTITY};
use testkit::{unique, Moto};

async fn table_with(config: &lambda_support::SdkConfig, items: &[(&str, &str, i64)]) -> String {
    let client = aws_sdk_dynamodb::Client::new(config);
    let table = testkit::create_table(config, "inventory").await;
    for (id, status, stock) in items {
        client
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S((*id).into()))
            .item("name", AttributeValue::S(id.to_uppercase()))
            .item("status", AttributeValue::S((*status).into()))
            .item("stock", AttributeValue::N(stock.to_string()))
            .send()
            .await
            .unwrap();
    }
    table
}

/// A bus whose new orders land in a queue the test can read.
async fn bus_with_capture(config: &lambda_support::SdkConfig) -> (String, String) {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let bus = unique("bus");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("capture"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let rule = unique("rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["com.orders"],"detail-type":["new-order-received"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("capture")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (bus, queue_url)
}

fn generator(config: &lambda_support::SdkConfig, table: String, bus: String) -> Generator {
    Generator {
        dynamodb: aws_sdk_dynamodb::Client::new(config),
        events: aws_sdk_eventbridge::Client::new(config),
        table,
        bus,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_a_product_that_is_in_stock_and_puts_it_on_the_bus() {
    let config = Moto::shared().sdk_config().await;
    let table = table_with(
        &config,
        &[
            ("tv", "IN STOCK", 5),
            ("desk", "OUT OF STOCK", 0),
            ("chair", "IN STOCK", 0),
        ],
    )
    .await;
    let (bus, queue_url) = bus_with_capture(&config).await;
    let generator = generator(&config, table, bus);

    let mut orders = Vec::new();
    for seed in 0..5 {
        let order = generator
            .generate(&mut fastrand::Rng::with_seed(seed))
            .await
            .unwrap();
        assert_eq!(order.product_id, "tv", "only tv is in stock with stock > 0");
        assert!((1..=MAX_QUANTITY).contains(&order.quantity));
        orders.push(order);
    }

    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut delivered = Vec::new();
    while delivered.len() < orders.len() {
        let messages = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert!(
            !messages.is_empty(),
            "only {} of {} orders arrived",
            delivered.len(),
            orders.len()
        );
        for message in messages {
            let event: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
            assert_eq!(event["source"], "com.orders");
            assert_eq!(event["detail-type"], "new-order-received");
            delivered.push(
                serde_json::from_value::<inventory_domain::NewOrder>(event["detail"].clone())
                    .unwrap(),
            );
        }
    }
    delivered.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    assert_eq!(delivered, orders);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_in_stock_is_a_clear_error() {
    let config = Moto::shared().sdk_config().await;
    let table = table_with(&config, &[("desk", "OUT OF STOCK", 0)]).await;
    let (bus, _) = bus_with_capture(&config).await;
    let error = generator(&config, table.clone(), bus)
        .generate(&mut fastrand::Rng::with_seed(1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::NothingInStock(ref t) if *t == table),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_table_names_the_table() {
    let config = Moto::shared().sdk_config().await;
    let error = generator(&config, "no-such-table".into(), "no-such-bus".into())
        .generate(&mut fastrand::Rng::with_seed(1))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("cannot scan inventory table no-such-table"),
        "{text}"
    );
}
