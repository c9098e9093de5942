use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use lambda_support::{StartMode, WorkflowStarter};
use reserve_stock::Reserver;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logging();
    let config = lambda_support::sdk_config()?;
    let reserver = Reserver {
        workflow: WorkflowStarter {
            client: lambda_support::workflow_client(&config),
            state_machine_arn: lambda_support::env("STATE_MACHINE_ARN")?,
            mode: StartMode::from_env()?,
        },
    };
    let reserver = &reserver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(reserver.handle(event.payload).await)
    }))
    .await
}
