//! What the commands that drive a deployed stack share: finding its
//! resources and reading its catalog.
//!
//! Resources are found through the stack's outputs, as the template names
//! them; when an output is missing (an emulator that computes no outputs
//! after a change set) the stack's own resource list answers by logical id.
//! Nothing is found by guessing a name.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use inventory_domain::inventory;

use crate::config::{AwsArgs, ConfigError, Settings};
use crate::deploy::stack;
use crate::stack::{functions, ids};

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] crate::aws::SetupError),
    #[error("stack {stack} does not exist in {region}; deploy it first with `invctl deploy --email ADDRESS`")]
    NotDeployed { stack: String, region: String },
    #[error("stack {stack} is {status} and cannot be used; `invctl status` says more, `invctl deploy` brings it up")]
    NotUsable { stack: String, status: String },
    #[error("stack {stack} has no {what} (output {output}, resource {logical_id}): was it deployed by this version of invctl?")]
    Missing {
        stack: String,
        what: String,
        output: &'static str,
        logical_id: String,
    },
    #[error("cannot read stack {stack}: {message}")]
    Stack { stack: String, message: String },
    #[error("cannot read table {table}: {message}")]
    Table { table: String, message: String },
}

impl DriveError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DriveError::NotDeployed { .. } | DriveError::NotUsable { .. } => {
                crate::exit::NOT_DEPLOYED
            }
            DriveError::Config(e) => e.exit_code(),
            DriveError::Setup(_) => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

/// A resource of the stack that commands use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    EventBus,
    InventoryTable,
    ReservationTable,
    PurchaseOrderTable,
    OrderGeneratorFunction,
    OrderGeneratorSchedule,
    Workflow(crate::stack::workflows::WorkflowId),
    WorkflowLog(crate::stack::workflows::WorkflowId),
    /// A queue, by URL.
    Queue(crate::stack::queues::QueueRef),
}

impl Resource {
    fn what(self) -> String {
        let what = match self {
            Resource::EventBus => "event bus",
            Resource::InventoryTable => "inventory table",
            Resource::ReservationTable => "reservation table",
            Resource::PurchaseOrderTable => "purchase-order table",
            Resource::OrderGeneratorFunction => "order-generator function",
            Resource::OrderGeneratorSchedule => "order-generator schedule",
            Resource::Queue(_) => "queue",
            Resource::Workflow(workflow) => return format!("{} workflow", workflow.as_str()),
            Resource::WorkflowLog(workflow) => {
                return format!("{} workflow log group", workflow.as_str())
            }
        };
        what.to_owned()
    }

    /// The output that names it, and the logical id whose physical id is the
    /// same value (a name, or an ARN for state machines).
    fn sources(self) -> (&'static str, String) {
        let (output, logical_id) = match self {
            Resource::EventBus => (ids::output::EVENT_BUS_NAME, ids::EVENT_BUS),
            Resource::InventoryTable => (ids::output::INVENTORY_TABLE_NAME, ids::INVENTORY_TABLE),
            Resource::ReservationTable => {
                (ids::output::RESERVATION_TABLE_NAME, ids::RESERVATION_TABLE)
            }
            Resource::PurchaseOrderTable => (
                ids::output::PURCHASE_ORDER_TABLE_NAME,
                ids::PURCHASE_ORDER_TABLE,
            ),
            Resource::OrderGeneratorFunction => (
                ids::output::ORDER_GENERATOR_FUNCTION_NAME,
                functions::ORDER_GENERATOR.logical_id,
            ),
            Resource::OrderGeneratorSchedule => (
                ids::output::ORDER_GENERATOR_SCHEDULE_NAME,
                ids::ORDER_GENERATOR_SCHEDULE,
            ),
            Resource::Workflow(workflow) => (workflow.spec().output.0, workflow.spec().logical_id),
            Resource::WorkflowLog(workflow) => {
                let spec = workflow.spec();
                return (spec.log_output.0, spec.log_group_id());
            }
            Resource::Queue(queue) => (queue.url_output, queue.logical_id),
        };
        (output, logical_id.to_owned())
    }
}

/// The stack the settings name, as CloudFormation describes it, in
/// whatever state it is.
pub struct Located {
    pub config: SdkConfig,
    pub name: String,
    pub stack: aws_sdk_cloudformation::types::Stack,
}

/// Resolves the settings and describes their stack; a missing stack is
/// [`DriveError::NotDeployed`].
pub async fn locate(aws: &AwsArgs) -> Result<Located, DriveError> {
    let settings = Settings::resolve(aws)?;
    let config = crate::aws::sdk_config(&settings).await?;
    let name = settings.stack_name;
    let found = stack::describe(&Client::new(&config), &name)
        .await
        .map_err(|e| DriveError::Stack {
            stack: name.clone(),
            message: e.to_string(),
        })?;
    match found {
        Some(stack) => Ok(Located {
            config,
            name,
            stack,
        }),
        None => Err(DriveError::NotDeployed {
            stack: name,
            region: config.region().map(ToString::to_string).unwrap_or_default(),
        }),
    }
}

/// A deployed stack, as the driving commands see it.
pub struct DeployedStack {
    pub config: SdkConfig,
    pub name: String,
    outputs: HashMap<String, String>,
    client: Client,
    /// Logical id → physical id, read on first need.
    resources: Option<HashMap<String, String>>,
}

impl DeployedStack {
    /// A stack already described: its name and outputs (for tools and tests
    /// that hold them; commands use [`DeployedStack::find`]).
    pub fn with_outputs(
        config: SdkConfig,
        name: &str,
        outputs: HashMap<String, String>,
    ) -> DeployedStack {
        DeployedStack {
            client: Client::new(&config),
            config,
            name: name.to_owned(),
            outputs,
            resources: None,
        }
    }

    /// Resolves the settings, then finds the stack; a missing stack or one
    /// that never finished creating is an error that says what to do.
    pub async fn find(aws: &AwsArgs) -> Result<DeployedStack, DriveError> {
        let Located {
            config,
            name,
            stack: found,
        } = locate(aws).await?;
        // A stack whose first create failed or that is going away has
        // nothing to drive; every other state has its resources.
        if !crate::deploy::stack::state_of(&found).has_resources() {
            return Err(DriveError::NotUsable {
                stack: name,
                status: found
                    .stack_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            });
        }
        let outputs = found
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect();
        Ok(DeployedStack::with_outputs(config, &name, outputs))
    }

    /// The name (or ARN) of one of the stack's resources.
    pub async fn get(&mut self, resource: Resource) -> Result<String, DriveError> {
        let (output, logical_id) = resource.sources();
        if let Some(value) = self.outputs.get(output).filter(|v| !v.is_empty()) {
            return Ok(value.clone());
        }
        if self.resources.is_none() {
            self.resources = Some(self.list_resources().await?);
        }
        self.resources
            .as_ref()
            .and_then(|r| r.get(&logical_id))
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or_else(|| DriveError::Missing {
                stack: self.name.clone(),
                what: resource.what(),
                output,
                logical_id,
            })
    }

    /// Logical id to physical id of every resource of the stack.
    pub async fn list_resources(&self) -> Result<HashMap<String, String>, DriveError> {
        physical_ids(&self.client, &self.name)
            .await
            .map_err(|message| DriveError::Stack {
                stack: self.name.clone(),
                message,
            })
    }
}

/// Logical id to physical id of every resource of `stack` (a name or an
/// id), in whatever state it is; or why they cannot be listed.
pub async fn physical_ids(client: &Client, stack: &str) -> Result<HashMap<String, String>, String> {
    let mut pages = client
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send();
    let mut found = HashMap::new();
    while let Some(summary) = pages.next().await {
        let summary = summary.map_err(|e| crate::aws::error::text(&e))?;
        if let (Some(logical), Some(physical)) = (
            summary.logical_resource_id(),
            summary.physical_resource_id(),
        ) {
            found.insert(logical.to_owned(), physical.to_owned());
        }
    }
    Ok(found)
}

/// A product as the catalog lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub status: String,
    pub stock: i64,
}

/// Every item of `table`, as a Scan reads them, page after page.
pub async fn scan_items(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, DriveError> {
    let items: Vec<_> = dynamodb
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    items
        .into_iter()
        .map(|item| {
            item.map_err(|e| DriveError::Table {
                table: table.to_owned(),
                message: crate::aws::error::text(&e),
            })
        })
        .collect()
}

/// Every product of the inventory table, sorted by id.
pub async fn catalog(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<CatalogEntry>, DriveError> {
    let mut products = Vec::new();
    for item in scan_items(dynamodb, table).await? {
        let text = |key: &str| match item.get(key) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        products.push(CatalogEntry {
            id: text(inventory::ID),
            name: text(inventory::NAME),
            status: text(inventory::STATUS),
            stock: match item.get(inventory::STOCK) {
                Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                _ => 0,
            },
        });
    }
    products.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(products)
}
