//! The differences outside the template: each function's code (its new
//! zip's sha256 against the deployed code key) and the parameters a deploy
//! passes; and reading a template as CloudFormation keeps it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::template::TemplateDiff;
use crate::stack::{functions, ids};

/// A function whose code a deploy would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeChange {
    pub function: String,
    /// The deployed zip's sha256 (from its code key), if it has one.
    pub deployed: Option<String>,
    pub built: String,
}

/// A stack parameter a deploy would change (other than code keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterChange {
    pub name: String,
    pub deployed: Option<String>,
    pub new: String,
}

/// A template as CloudFormation keeps it (YAML or JSON), parsed.
pub fn parse_template(text: &str) -> Result<Value, String> {
    serde_json::from_str(text)
        .or_else(|_| serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string()))
}

/// The template `stack` runs, as it was given (GetTemplate, Original), parsed.
pub async fn deployed_template(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Value, String> {
    let body = client
        .get_template()
        .stack_name(stack)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .map_err(|e| crate::aws::error::text(&e))?
        .template_body
        .unwrap_or_default();
    parse_template(&body)
}

/// A described stack's parameters, by name.
pub fn stack_parameters(stack: &aws_sdk_cloudformation::types::Stack) -> HashMap<String, String> {
    stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.parameter_value()?.to_owned(),
            ))
        })
        .collect()
}

/// How the stack differs from what a deploy would make it.
pub struct Differences {
    pub template: TemplateDiff,
    pub code: Vec<CodeChange>,
    pub parameters: Vec<ParameterChange>,
}

/// The deployed `stack`'s template, code and parameters against
/// `new_template`, the built `zips`, and the address and bucket a deploy
/// would pass (when known).
pub async fn differences(
    client: &aws_sdk_cloudformation::Client,
    stack: &aws_sdk_cloudformation::types::Stack,
    new_template: &Value,
    zips: &[(functions::FunctionSpec, Vec<u8>, String)],
    email: Option<&str>,
    bucket: Option<&str>,
) -> Result<Differences, String> {
    let deployed = deployed_template(client, stack.stack_name().unwrap_or_default()).await?;
    let built: Vec<(functions::FunctionSpec, String)> =
        zips.iter().map(|(f, _, sha)| (*f, sha.clone())).collect();
    let (code, parameters) = parameter_changes(&stack_parameters(stack), &built, email, bucket);
    Ok(Differences {
        template: super::template::compare(&deployed, new_template),
        code,
        parameters,
    })
}

/// The zip sha256 a code key names (`functions/PACKAGE/SHA.zip`).
fn sha_of_key(key: &str) -> Option<String> {
    key.rsplit('/')
        .next()?
        .strip_suffix(".zip")
        .map(str::to_owned)
}

/// The code and parameter changes: `built` is each function's new zip
/// sha256; `email` and `bucket` what the deploy would pass, when known.
pub fn parameter_changes(
    deployed: &HashMap<String, String>,
    built: &[(functions::FunctionSpec, String)],
    email: Option<&str>,
    bucket: Option<&str>,
) -> (Vec<CodeChange>, Vec<ParameterChange>) {
    let code = built
        .iter()
        .filter_map(|(function, sha)| {
            let key = deployed.get(&function.code_key_parameter());
            let deployed_sha = key.and_then(|k| sha_of_key(k));
            (deployed_sha.as_deref() != Some(sha.as_str())).then(|| CodeChange {
                function: function.package.to_owned(),
                deployed: deployed_sha,
                built: sha.clone(),
            })
        })
        .collect();
    let parameters = [
        (ids::param::NOTIFICATION_EMAIL, email),
        (ids::param::ARTIFACT_BUCKET, bucket),
    ]
    .into_iter()
    .filter_map(|(name, new)| {
        let new = new?;
        let old = deployed.get(name);
        (old.map(String::as_str) != Some(new)).then(|| ParameterChange {
            name: name.to_owned(),
            deployed: old.cloned(),
            new: new.to_owned(),
        })
    })
    .collect();
    (code, parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_changes_come_from_the_deployed_code_keys() {
        let f = functions::RESERVE_STOCK;
        let g = functions::APPROVAL;
        let deployed = HashMap::from([
            (
                f.code_key_parameter(),
                "functions/reserve-stock/aaa.zip".to_owned(),
            ),
            (
                g.code_key_parameter(),
                "functions/approval/bbb.zip".to_owned(),
            ),
            (
                ids::param::NOTIFICATION_EMAIL.to_owned(),
                "a@example.com".to_owned(),
            ),
        ]);
        let (code, parameters) = parameter_changes(
            &deployed,
            &[(f, "aaa".to_owned()), (g, "ccc".to_owned())],
            Some("b@example.com"),
            None,
        );
        assert_eq!(
            code,
            [CodeChange {
                function: "approval".into(),
                deployed: Some("bbb".into()),
                built: "ccc".into(),
            }]
        );
        assert_eq!(
            parameters,
            [ParameterChange {
                name: ids::param::NOTIFICATION_EMAIL.into(),
                deployed: Some("a@example.com".into()),
                new: "b@example.com".into(),
            }]
        );
        let (_, same) = parameter_changes(&deployed, &[], Some("a@example.com"), None);
        assert!(same.is_empty());
    }

    #[test]
    fn yaml_and_json_templates_parse_alike() {
        let yaml = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n";
        let json = r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}"#;
        assert_eq!(parse_template(yaml).unwrap(), parse_template(json).unwrap());
        assert!(parse_template("Resources: [").is_err());
    }
}
