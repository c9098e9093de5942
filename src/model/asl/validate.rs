//! Structural checks of a workflow, each error naming the state at fault.
//! AWS reports these only when a state machine is created; here they fail
//! at synth time (and in unit tests) instead.

use std::collections::{BTreeSet, VecDeque};

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::states::{State, StateMachine};
use crate::model::cfn::{sub_variables, Val};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AslError {
    #[error("{scope}: has no states")]
    NoStates { scope: String },
    #[error("{scope}: StartAt '{target}' is not a state")]
    UnknownStartAt { scope: String, target: String },
    #[error("{scope}: state '{state}' has {field} '{target}', which is not a state")]
    UnknownTarget {
        scope: String,
        state: String,
        field: &'static str,
        target: String,
    },
    #[error("{scope}: state '{state}' cannot be reached from StartAt")]
    Unreachable { scope: String, state: String },
    #[error("{scope}: no terminal state (a Succeed, a Fail or a state with End)")]
    NoTerminalState { scope: String },
    #[error("{scope}: state '{state}' has an And/Or with no conditions")]
    EmptyCondition { scope: String, state: String },
    #[error("{scope}: Choice state '{state}' has no Choices")]
    NoChoices { scope: String, state: String },
    #[error("state '{state}' uses placeholder '${{{placeholder}}}', which has no binding")]
    UnboundPlaceholder { state: String, placeholder: String },
    #[error("binding '{0}' is never used by any state")]
    UnusedBinding(String),
}

/// Checks a state machine and its branches; all errors, in definition order.
pub fn check_structure(machine: &StateMachine) -> Vec<AslError> {
    let mut errors = Vec::new();
    check_scope("workflow", machine, &mut errors);
    errors
}

fn check_scope(scope: &str, machine: &StateMachine, errors: &mut Vec<AslError>) {
    if machine.states.is_empty() {
        errors.push(AslError::NoStates {
            scope: scope.to_owned(),
        });
        return;
    }
    if !machine.states.contains_key(&machine.start_at) {
        errors.push(AslError::UnknownStartAt {
            scope: scope.to_owned(),
            target: machine.start_at.clone(),
        });
    }
    for (name, state) in &machine.states {
        for (field, target) in state.targets() {
            if !machine.states.contains_key(target) {
                errors.push(AslError::UnknownTarget {
                    scope: scope.to_owned(),
                    state: name.clone(),
                    field,
                    target: target.to_owned(),
                });
            }
        }
        if let State::Choice(choice) = state {
            if choice.choices.is_empty() {
                errors.push(AslError::NoChoices {
                    scope: scope.to_owned(),
                    state: name.clone(),
                });
            }
            if choice
                .choices
                .iter()
                .any(|rule| rule.condition.empty_combinators() > 0)
            {
                errors.push(AslError::EmptyCondition {
                    scope: scope.to_owned(),
                    state: name.clone(),
                });
            }
        }
        if let State::Parallel(parallel) = state {
            for (index, branch) in parallel.branches.iter().enumerate() {
                let branch_scope = format!("{scope} > branch {} of '{name}'", index + 1);
                check_scope(&branch_scope, branch, errors);
            }
        }
    }
    let reachable = reachable_states(machine);
    for name in machine.states.keys() {
        if !reachable.contains(name.as_str()) {
            errors.push(AslError::Unreachable {
                scope: scope.to_owned(),
                state: name.clone(),
            });
        }
    }
    if !machine.states.values().any(State::is_terminal) {
        errors.push(AslError::NoTerminalState {
            scope: scope.to_owned(),
        });
    }
}

fn reachable_states(machine: &StateMachine) -> BTreeSet<&str> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([machine.start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        let Some(state) = machine.states.get(name) else {
            continue;
        };
        if !seen.insert(name) {
            continue;
        }
        queue.extend(state.targets().into_iter().map(|(_, target)| target));
    }
    seen
}

/// Checks that every `${Name}` in the definition has a binding and every
/// binding is used. Placeholders are reported at the innermost state.
pub fn check_placeholders(
    machine: &StateMachine,
    bindings: &IndexMap<String, Val>,
) -> Vec<AslError> {
    let mut used = BTreeSet::new();
    let mut errors = Vec::new();
    scan_scope(machine, bindings, &mut used, &mut errors);
    for name in bindings.keys() {
        if !used.contains(name) {
            errors.push(AslError::UnusedBinding(name.clone()));
        }
    }
    errors
}

fn scan_scope(
    machine: &StateMachine,
    bindings: &IndexMap<String, Val>,
    used: &mut BTreeSet<String>,
    errors: &mut Vec<AslError>,
) {
    for (name, state) in &machine.states {
        let mut value = serde_json::to_value(state).expect("states serialize");
        if let State::Parallel(parallel) = state {
            value
                .as_object_mut()
                .expect("a state is an object")
                .remove("Branches");
            for branch in &parallel.branches {
                scan_scope(branch, bindings, used, errors);
            }
        }
        let mut placeholders = Vec::new();
        collect_placeholders(&value, &mut placeholders);
        for placeholder in placeholders {
            if bindings.contains_key(&placeholder) {
                used.insert(placeholder);
            } else if placeholder.starts_with("AWS::") {
                // A pseudo parameter: Fn::Sub fills it in unbound.
            } else if !errors.iter().any(|e| matches!(e, AslError::UnboundPlaceholder { state, placeholder: p } if state == name && *p == placeholder)) {
                errors.push(AslError::UnboundPlaceholder {
                    state: name.clone(),
                    placeholder,
                });
            }
        }
    }
}

fn collect_placeholders(value: &Json, found: &mut Vec<String>) {
    match value {
        Json::String(text) => found.extend(sub_variables(text).into_iter().map(str::to_owned)),
        Json::Array(items) => items.iter().for_each(|v| collect_placeholders(v, found)),
        Json::Object(map) => {
            for (key, v) in map {
                found.extend(sub_variables(key).into_iter().map(str::to_owned));
                collect_placeholders(v, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asl::{Choice, Condition, Fail, Parallel, Pass, Succeed};
    use serde_json::json;

    fn pass() -> Pass {
        Pass::result(json!(1), "$.x")
    }

    #[test]
    fn a_sound_machine_passes() {
        let machine = StateMachine::new("A")
            .state("A", pass().next("B"))
            .state("B", Succeed::default());
        assert_eq!(check_structure(&machine), vec![]);
    }

    #[test]
    fn start_at_must_name_a_state() {
        let machine = StateMachine::new("Nowhere").state("A", pass().end());
        let errors = check_structure(&machine);
        assert!(errors.contains(&AslError::UnknownStartAt {
            scope: "workflow".into(),
            target: "Nowhere".into()
        }));
        assert_eq!(
            errors[0].to_string(),
            "workflow: StartAt 'Nowhere' is not a state"
        );
    }

    #[test]
    fn next_default_and_catch_must_name_states() {
        let machine = StateMachine::new("A")
            .state("A", pass().next("Missing"))
            .state(
                "B",
                Choice::new(vec![Condition::is_present("$.x").then("Gone")]).default("Lost"),
            );
        let errors = check_structure(&machine);
        assert!(errors.contains(&AslError::UnknownTarget {
            scope: "workflow".into(),
            state: "A".into(),
            field: "Next",
            target: "Missing".into()
        }));
        assert!(errors.contains(&AslError::UnknownTarget {
            scope: "workflow".into(),
            state: "B".into(),
            field: "Choices.Next",
            target: "Gone".into()
        }));
        assert!(errors.contains(&AslError::UnknownTarget {
            scope: "workflow".into(),
            state: "B".into(),
            field: "Default",
            target: "Lost".into()
        }));
    }

    #[test]
    fn unreachable_states_are_named() {
        let machine = StateMachine::new("A")
            .state("A", pass().end())
            .state("Orphan", Succeed::default());
        assert_eq!(
            check_structure(&machine),
            vec![AslError::Unreachable {
                scope: "workflow".into(),
                state: "Orphan".into()
            }]
        );
    }

    #[test]
    fn a_branch_needs_a_terminal_state() {
        let looping = StateMachine::new("Loop").state("Loop", pass().next("Loop"));
        let machine = StateMachine::new("P")
            .state("P", Parallel::new(vec![looping]).next("Done"))
            .state("Done", Fail::new("E", "c"));
        let errors = check_structure(&machine);
        assert_eq!(
            errors,
            vec![AslError::NoTerminalState {
                scope: "workflow > branch 1 of 'P'".into()
            }]
        );
        assert_eq!(
            errors[0].to_string(),
            "workflow > branch 1 of 'P': no terminal state (a Succeed, a Fail or a state with End)"
        );
    }

    #[test]
    fn empty_combinators_and_choiceless_choices_are_rejected() {
        let machine = StateMachine::new("C")
            .state(
                "C",
                Choice::new(vec![Condition::and(vec![]).then("End")]).default("End"),
            )
            .state("D", Choice::new(vec![]).default("End"))
            .state("End", Succeed::default());
        let errors = check_structure(&machine);
        assert!(errors.contains(&AslError::EmptyCondition {
            scope: "workflow".into(),
            state: "C".into()
        }));
        assert!(errors.contains(&AslError::NoChoices {
            scope: "workflow".into(),
            state: "D".into()
        }));
    }

    #[test]
    fn placeholders_need_bindings_and_bindings_need_use() {
        let inner = StateMachine::new("Put").state(
            "Put",
            Pass::parameters(json!({"Table": "${MissingTable}"}), "$.r").end(),
        );
        let machine = StateMachine::new("P")
            .state("P", Parallel::new(vec![inner]).next("Q"))
            .state(
                "Q",
                Pass::parameters(json!({"Bus": "${EventBusName}"}), "$.r").end(),
            );
        let mut bindings = IndexMap::new();
        bindings.insert("EventBusName".to_owned(), Val::lit("bus"));
        bindings.insert("Spare".to_owned(), Val::lit("x"));
        let errors = check_placeholders(&machine, &bindings);
        assert_eq!(
            errors,
            vec![
                AslError::UnboundPlaceholder {
                    state: "Put".into(),
                    placeholder: "MissingTable".into()
                },
                AslError::UnusedBinding("Spare".into()),
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "state 'Put' uses placeholder '${MissingTable}', which has no binding"
        );
    }
}
