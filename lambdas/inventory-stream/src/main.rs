use aws_lambda_events::event::dynamodb::Event;
use inventory_stream::StockChecker;
use lambda_runtime::{service_fn, LambdaEvent};
use lambda_support::{StartMode, WorkflowStarter};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logging();
    let config = lambda_support::sdk_config()?;
    let checker = StockChecker {
        workflow: WorkflowStarter {
            client: lambda_support::workflow_client(&config),
            state_machine_arn: lambda_support::env("STATE_MACHINE_ARN")?,
            mode: StartMode::from_env()?,
        },
    };
    let checker = &checker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(checker.handle(event.payload).await)
    }))
    .await
}
