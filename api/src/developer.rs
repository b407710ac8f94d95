//! `orbit apps`: what a developer signed in with `orbit login` does with
//! their apps, through the server's GraphQL API. Public so tests run it in
//! process.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::login::graphql;

const CREATE_APP: &str = "mutation($input: CreateAppInput!) { createApp(input: $input) { app { id name createdAt } publishableKey secretKey } }";
const APPS: &str = "query($after: String) { apps(first: 100, after: $after) { edges { node { id name createdAt viewerRole } } pageInfo { hasNextPage endCursor } } }";

/// Creates an app owned by the signed-in developer: `appId`, `name`,
/// `publishableKey` and `secretKey` (the keys are shown this once).
pub async fn create_app(config_dir: &Path, name: &str) -> anyhow::Result<Value> {
    let data = graphql(config_dir, CREATE_APP, json!({ "input": { "name": name } })).await?;
    let created = &data["createApp"];
    Ok(json!({
        "appId": created["app"]["id"],
        "name": created["app"]["name"],
        "publishableKey": created["publishableKey"],
        "secretKey": created["secretKey"],
    }))
}

/// Every app the signed-in developer is a member of, oldest first:
/// `id`, `name`, `role`, `createdAt`.
pub async fn list_apps(config_dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut apps = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = graphql(config_dir, APPS, json!({ "after": after })).await?;
        let page = &data["apps"];
        let edges = page["edges"]
            .as_array()
            .context("unexpected answer from the server")?;
        apps.extend(edges.iter().map(|edge| {
            let app = &edge["node"];
            json!({
                "id": app["id"],
                "name": app["name"],
                "role": app["viewerRole"],
                "createdAt": app["createdAt"],
            })
        }));
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(apps);
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}
