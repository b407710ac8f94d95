//! The tables, as SeaORM entities. They are storage shapes only: the GraphQL
//! layer maps them to its own types, so the API never follows the table
//! layout by accident.

pub mod agent;
pub mod agent_reply;
pub mod agent_tool;
pub mod agent_tool_call;
pub mod api_key;
pub mod app;
pub mod app_member;
pub mod app_setting;
pub mod app_var;
pub mod device_authorization;
pub mod device_code_failure;
pub mod event;
pub mod identity_provider;
pub mod login_code;
pub mod magic_link;
pub mod mcp_server;
pub mod message;
pub mod model_provider;
pub mod oauth_login;
pub mod password_credential;
pub mod refresh_token;
pub mod routine;
pub mod routine_run;
pub mod session;
pub mod signing_key;
pub mod team;
pub mod team_invitation;
pub mod team_member;
pub mod thread;
pub mod thread_agent;
pub mod thread_participant;
pub mod thread_read;
pub mod tool;
pub mod topic_sequence;
pub mod user;
pub mod user_identity;
pub mod webhook;
pub mod webhook_delivery;
pub mod webhook_delivery_attempt;
