//! What moto cannot show about sending orders, on SDK-level fakes: entries
//! PutEvents refuses (retried, then reported by order id), and the order
//! generator's answers (moto's Lambda only echoes).

use std::time::Duration;

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use invctl::commands::send_order::{invoke_generator, put_orders, Error};
use inventory_domain::NewOrder;

fn orders(n: usize) -> Vec<NewOrder> {
    (0..n)
        .map(|i| NewOrder {
            order_id: format!("ord-{i}"),
            product_id: "tv".into(),
            quantity: 1,
        })
        .collect()
}

fn accepted() -> PutEventsResultEntry {
    PutEventsResultEntry::builder().event_id("e").build()
}

fn throttled() -> PutEventsResultEntry {
    PutEventsResultEntry::builder()
        .error_code("ThrottlingException")
        .error_message("Rate exceeded")
        .build()
}

#[tokio::test]
async fn refused_entries_are_sent_again_alone_until_accepted() {
    let first = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| r.entries().len() == 3)
        .then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(accepted())
                .entries(throttled())
                .entries(accepted())
                .build()
        });
    let retry = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            r.entries().len() == 1 && r.entries()[0].detail().unwrap().contains("\"ord-1\"")
        })
        .then_output(|| PutEventsOutput::builder().entries(accepted()).build());
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&first, &retry]);
    put_orders(&client, "bus", &orders(3), Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!((first.num_calls(), retry.num_calls()), (1, 1));
}

#[tokio::test]
async fn batches_hold_ten_and_lasting_refusals_are_reported_by_order() {
    let batch_of_ten = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| r.entries().len() == 10)
        .then_output(|| {
            PutEventsOutput::builder()
                .set_entries(Some(vec![accepted(); 10]))
                .build()
        });
    let refused = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| r.entries().len() == 1)
        .then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(throttled())
                .build()
        });
    let client = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::MatchAny,
        [&batch_of_ten, &refused]
    );
    let error = put_orders(&client, "bus", &orders(11), Duration::from_millis(1))
        .await
        .unwrap_err();
    assert_eq!(batch_of_ten.num_calls(), 1);
    assert_eq!(refused.num_calls(), 5, "five attempts, then it gives up");
    let Error::NotAccepted { failed, total, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(*total, 11);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "ord-10");
    assert!(error
        .to_string()
        .contains("ord-10: ThrottlingException: Rate exceeded"));
}

#[tokio::test]
async fn the_generator_answers_with_the_orders_it_put() {
    let answer = |order: &'static str| {
        mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(|r| r.function_name() == Some("inventory-OrderGenerator"))
            .then_output(move || {
                InvokeOutput::builder()
                    .status_code(200)
                    .payload(Blob::new(order))
                    .build()
            })
    };
    let first = answer(r#"{"orderId":"ord-7","productId":"mouse","quantity":3}"#);
    let second = answer(r#"{"orderId":"ord-8","productId":"tv","quantity":1}"#);
    let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, [&first, &second]);
    let orders = invoke_generator(&client, "inventory-OrderGenerator", 2)
        .await
        .unwrap();
    let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["ord-7", "ord-8"]);
    assert_eq!(orders[0].product_id, "mouse");
}

#[tokio::test]
async fn a_failing_generator_is_reported_with_its_error() {
    let invoke = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
        InvokeOutput::builder()
            .status_code(200)
            .function_error("Unhandled")
            .payload(Blob::new(
                r#"{"errorType":"NothingInStock","errorMessage":"no product in stock"}"#,
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_lambda, [&invoke]);
    let error = invoke_generator(&client, "gen", 1).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("the order-generator function gen failed: Unhandled")
            && text.contains("no product in stock"),
        "{text}"
    );
}

fn denied() -> aws_sdk_eventbridge::operation::put_events::PutEventsError {
    aws_sdk_eventbridge::operation::put_events::PutEventsError::generic(
        aws_sdk_eventbridge::error::ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message("not allowed")
            .build(),
    )
}

#[tokio::test]
async fn a_request_that_fails_after_some_went_out_names_the_orders_not_sent() {
    let first = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .set_entries(Some(vec![accepted(); 10]))
            .build()
    });
    let refused = mock!(aws_sdk_eventbridge::Client::put_events).then_error(denied);
    let client = mock_client!(
        aws_sdk_eventbridge,
        RuleMode::Sequential,
        [&first, &refused]
    );
    let error = put_orders(&client, "bus", &orders(25), Duration::from_millis(1))
        .await
        .unwrap_err();
    let Error::NotAccepted { failed, total, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(*total, 25);
    let ids: Vec<&str> = failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        (10..25).map(|i| format!("ord-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(failed[0].1, "not sent: AccessDeniedException: not allowed");
}

#[tokio::test]
async fn a_request_that_fails_before_anything_went_out_is_one_error() {
    let refused = mock!(aws_sdk_eventbridge::Client::put_events).then_error(denied);
    let client = mock_client!(aws_sdk_eventbridge, [&refused]);
    let error = put_orders(&client, "bus", &orders(3), Duration::from_millis(1))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot put events on bus bus: AccessDeniedException: not allowed"
    );
}
