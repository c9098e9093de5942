//! The workflows as the stack deploys them: each definition with its
//! `${Placeholder}`s bound to the template's resources.

use indexmap::IndexMap;

use super::workflows::{Placeholder, WorkflowId, WorkflowSpec};
use super::{functions, ids};
use crate::model::asl::Workflow;
use crate::model::cfn::Val;

/// A deployed workflow: its definition plus the state machine's logical id.
#[derive(Clone, Debug)]
pub struct StackWorkflow {
    pub logical_id: &'static str,
    pub spec: &'static WorkflowSpec,
    pub workflow: Workflow,
}

/// The workflows, in [`WorkflowId::ALL`]'s order.
pub fn stack_workflows() -> Vec<StackWorkflow> {
    WorkflowId::ALL
        .into_iter()
        .map(|id| {
            let spec = id.spec();
            StackWorkflow {
                logical_id: spec.logical_id,
                spec,
                workflow: Workflow {
                    name: spec.name,
                    kind: spec.kind,
                    definition: id.definition(),
                    bindings: spec
                        .placeholders
                        .iter()
                        .map(|p| (p.name().to_owned(), placeholder_binding(*p)))
                        .collect::<IndexMap<String, Val>>(),
                },
            }
        })
        .collect()
}

/// What the template binds a workflow's `${Placeholder}` to.
pub fn placeholder_binding(placeholder: Placeholder) -> Val {
    match placeholder {
        Placeholder::InventoryTable => Val::r#ref(ids::INVENTORY_TABLE),
        Placeholder::ReservationTable => Val::r#ref(ids::RESERVATION_TABLE),
        Placeholder::PurchaseOrderTable => Val::r#ref(ids::PURCHASE_ORDER_TABLE),
        Placeholder::EventBus => Val::get_att(ids::EVENT_BUS, "Name"),
        Placeholder::AlertTopic => Val::r#ref(ids::ALERT_TOPIC),
        Placeholder::PurchaseOrderEmailFunction => {
            Val::get_att(functions::PURCHASE_ORDER_EMAIL.logical_id, "Arn")
        }
    }
}
