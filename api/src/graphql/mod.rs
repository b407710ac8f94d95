//! The GraphQL API. Types here are the API's own, mapped from domain models,
//! so the schema never follows the table layout by accident. Resolvers are
//! split by area and merged.

pub(crate) mod agents;
mod api_keys;
mod app_settings;
mod app_vars;
mod apps;
pub(crate) mod auth;
mod device;
pub(crate) mod documents;
mod errors;
pub(crate) mod events;
mod identity_providers;
mod input_text;
mod limits;
mod loaders;
mod matched;
mod mcp_servers;
mod messages;
mod oauth_login;
pub(crate) mod observed;
mod pagination;
mod passwordless;
mod presence;
mod query;
mod routines;
mod scalars;
mod subscriptions;
mod teams;
mod threads;
mod tools;
mod types;
mod webhooks;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, MergedObject, Schema};
use orbit_domain::DomainResult;

use crate::Services;
use crate::config::Settings;
use crate::viewer::Viewer;

pub(crate) use errors::{internal_message, present_errors, unavailable_retry_after};
pub use pagination::CursorList;

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    passwordless::PasswordlessMutation,
    device::DeviceMutation,
    app_settings::AppSettingsMutation,
    teams::TeamMutation,
    threads::ThreadMutation,
    messages::MessageMutation,
    presence::PresenceMutation,
    agents::AgentMutation,
    apps::AppMutation,
    api_keys::ApiKeyMutation,
    identity_providers::IdentityProviderMutation,
    oauth_login::OAuthLoginMutation,
    webhooks::WebhookMutation,
    routines::RoutineMutation,
    tools::ToolMutation,
    mcp_servers::McpServerMutation,
    app_vars::AppVarMutation,
);

/// The root query: the reads in `query.rs`, and those of areas with their own module.
#[derive(MergedObject, Default)]
pub struct Query(
    query::Query,
    agents::AgentQuery,
    webhooks::WebhookQuery,
    routines::RoutineQuery,
    tools::ToolQuery,
    mcp_servers::McpServerQuery,
    app_vars::AppVarQuery,
);

pub type OrbitSchema = Schema<Query, Mutation, subscriptions::Subscription>;

/// The id of the HTTP request, for logs that tie an internal error to it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub use crate::config::QueryLimits;

/// The schema registers no extension: with one, async-graphql resolves
/// every field through the extension chain, at a cost on each field of
/// every response. What extensions did runs in the handlers instead, on
/// the parsed document: the shape limits ([`limits::QueryShapeLimits`],
/// which count fragments as executed in linear time, before validation;
/// async-graphql's own depth and complexity checks expand every fragment
/// where it is spread, so they are not used), the NUL check
/// ([`input_text`]) and naming the operation for `/metrics`
/// ([`observed`]); see [`documents::Documents::prepare`].
fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, subscriptions::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscriptions::Subscription::default(),
    )
    .register_output_type::<events::Event>()
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
        scalars::DATE_TIME_DESCRIPTION,
    )
    .limit_recursive_depth(32)
    .limit_directives(16)
}

/// The schema requests run on, and the one that renders events for
/// subscriptions (see [`Schemas::render`]).
#[derive(Clone)]
pub(crate) struct Schemas {
    pub requests: OrbitSchema,
    /// Runs a subscription's document on each of its events. The document
    /// and its variables were validated in full when the subscription
    /// began and do not change, so this schema validates only what
    /// async-graphql's fast mode keeps: validating the same document again
    /// on every event was about half the cost of rendering one (6 % of a
    /// server's CPU in a profile of three processes at 100 sends a second).
    pub render: OrbitSchema,
}

pub(crate) fn build_schemas(services: Services, settings: &Settings) -> Schemas {
    let build = |validation_mode| {
        let mut builder = schema_builder()
            .data(services.clone())
            .validation_mode(validation_mode);
        if !settings.introspection {
            builder = builder.disable_introspection();
        }
        builder.finish()
    };
    Schemas {
        requests: build(async_graphql::ValidationMode::Strict),
        render: build(async_graphql::ValidationMode::Fast),
    }
}

/// The store of parsed documents, with the checks each request's document
/// passes before it runs.
pub(crate) fn document_store(settings: &Settings) -> documents::Documents {
    documents::Documents::new(documents::DocumentChecks {
        limits: limits::QueryShapeLimits {
            limits: settings.query_limits,
            introspection: settings.introspection,
        },
        registry: input_registry(),
    })
}

/// The schema's types as async-graphql registers them, for the types of
/// arguments and input fields.
fn input_registry() -> async_graphql::registry::Registry {
    use async_graphql::{OutputType, SubscriptionType};
    let mut registry = async_graphql::registry::Registry {
        query_type: <Query as OutputType>::type_name().into_owned(),
        mutation_type: Some(<Mutation as OutputType>::type_name().into_owned()),
        subscription_type: Some(
            <subscriptions::Subscription as SubscriptionType>::type_name().into_owned(),
        ),
        ..Default::default()
    };
    <Query as OutputType>::create_type_info(&mut registry);
    <Mutation as OutputType>::create_type_info(&mut registry);
    <subscriptions::Subscription as SubscriptionType>::create_type_info(&mut registry);
    registry
}

/// The SDL the code serves; `schema.graphql` must equal it (a test checks).
pub fn schema_sdl() -> String {
    schema_builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// Attaches per-request data: the caller, the request id, and per-request
/// DataLoaders (their caches must not outlive the request, nor leak across callers).
pub(crate) fn attach_request_data(
    request: async_graphql::Request,
    services: &Services,
    viewer: Viewer,
    request_id: RequestId,
) -> async_graphql::Request {
    request
        .data(viewer)
        .data(request_id)
        .data(loaders::Loaders::new(services, viewer))
}

/// The limits subject of the request's client address, when it has one.
pub(crate) fn client_address(ctx: &Context<'_>) -> Option<String> {
    ctx.data_opt::<crate::limits::ClientAddr>()
        .map(|addr| crate::limits::address(*addr))
}

/// `access::managed_app`'s scope, for resolvers that take `appId` as an argument
/// or input field.
pub(crate) async fn managed_scope(
    ctx: &async_graphql::Context<'_>,
    app_id: Option<&async_graphql::ID>,
    action: orbit_domain::policy::AppAction,
) -> orbit_domain::DomainResult<orbit_domain::ids::AppScope> {
    let (scope, _) = crate::application::access::managed_app(
        services(ctx),
        viewer(ctx),
        app_id.map(|id| id.as_str()),
        action,
    )
    .await?;
    Ok(scope)
}

pub(crate) fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// The caller. Reading it is recorded (see [`ViewerReads`]): a result that
/// depends on who asked is never shared with another subscriber.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    record_viewer_read(ctx);
    ctx.data_unchecked::<Viewer>()
}

/// The caller's app. Results shared between subscribers are shared only
/// within one app, so reading it is not a read of the viewer.
pub(crate) fn scope(ctx: &Context<'_>) -> orbit_domain::ids::AppScope {
    ctx.data_unchecked::<Viewer>().app()
}

pub(crate) fn loader<'a, T: loaders::RequestLoader>(ctx: &Context<'a>) -> &'a DataLoader<T> {
    if T::READS_VIEWER {
        record_viewer_read(ctx);
    }
    ctx.data_unchecked::<loaders::Loaders>().get::<T>()
}

/// Put in a request whose result may be shared: set when anything in the
/// request read the caller, so that the result is the caller's alone.
#[derive(Default)]
pub(crate) struct ViewerReads(std::sync::atomic::AtomicBool);

impl ViewerReads {
    pub(crate) fn happened(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn record_viewer_read(ctx: &Context<'_>) {
    if let Some(reads) = ctx.data_opt::<std::sync::Arc<ViewerReads>>() {
        reads.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Loader errors are database errors; they reach the client as INTERNAL.
pub(crate) fn loader_error(error: String) -> orbit_domain::DomainError {
    orbit_domain::DomainError::internal(error)
}

pub(crate) type GqlResult<T> = DomainResult<T>;
