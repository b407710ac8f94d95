//! App variables (`application::app_vars` does the work).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::entities::app_var;

use super::{GqlResult, services, viewer};
use crate::application::app_vars;

/// A named value of the app: `{{vars.NAME}}` in agents' instructions and
/// tools' URLs and headers.
pub struct AppVarNode(pub app_var::Model);

#[Object(name = "AppVar")]
impl AppVarNode {
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Null when secret: it is stored encrypted and never returned.
    async fn value(&self) -> Option<&str> {
        self.0.value.as_deref()
    }
    async fn secret(&self) -> bool {
        self.0.value_sealed.is_some()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct SetAppVarInput {
    /// The app: required for developers, may be omitted with the secret key.
    app_id: Option<ID>,
    /// A-Z, 0-9 and `_`, not starting with a digit; at most 64.
    name: String,
    /// At most 4,096 characters.
    value: String,
    /// Stored encrypted and never returned (an API key, a token).
    #[graphql(default)]
    secret: bool,
}

#[derive(SimpleObject)]
pub struct SetAppVarPayload {
    app_var: AppVarNode,
}

#[derive(InputObject)]
pub struct DeleteAppVarInput {
    app_id: Option<ID>,
    name: String,
}

#[derive(SimpleObject)]
pub struct DeleteAppVarPayload {
    deleted_app_var_name: String,
}

#[derive(Default)]
pub struct AppVarQuery;

#[Object]
impl AppVarQuery {
    /// The app's variables, by name: for its secret key and developers.
    async fn app_vars(&self, ctx: &Context<'_>, app_id: Option<ID>) -> GqlResult<Vec<AppVarNode>> {
        let app_id = app_id.as_deref().map(String::as_str);
        let vars = app_vars::list(services(ctx), viewer(ctx), app_id).await?;
        Ok(vars.into_iter().map(AppVarNode).collect())
    }
}

#[derive(Default)]
pub struct AppVarMutation;

#[Object]
impl AppVarMutation {
    /// Sets a variable, made or replaced (the app's secret key, or a developer).
    async fn set_app_var(
        &self,
        ctx: &Context<'_>,
        input: SetAppVarInput,
    ) -> GqlResult<SetAppVarPayload> {
        let app_id = input.app_id.as_deref().map(String::as_str);
        let var = app_vars::set(
            services(ctx),
            viewer(ctx),
            app_id,
            &input.name,
            &input.value,
            input.secret,
        )
        .await?;
        Ok(SetAppVarPayload {
            app_var: AppVarNode(var),
        })
    }

    /// Deletes a variable; what still refers to it fails when it runs,
    /// saying which variable is missing.
    async fn delete_app_var(
        &self,
        ctx: &Context<'_>,
        input: DeleteAppVarInput,
    ) -> GqlResult<DeleteAppVarPayload> {
        let app_id = input.app_id.as_deref().map(String::as_str);
        let name = app_vars::delete(services(ctx), viewer(ctx), app_id, &input.name).await?;
        Ok(DeleteAppVarPayload {
            deleted_app_var_name: name,
        })
    }
}
