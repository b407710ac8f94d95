//! The client side of the device flow: `orbit login` asks the server for a
//! device code, shows the person where to approve it, polls `/oauth/token`
//! as the server asks (`interval`, `slow_down`), and keeps the tokens in
//! the user's config dir; `orbit whoami` uses them, refreshing when the
//! server turns the access token away. Public so tests run it in process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::application::device::{CLI_CLIENT_ID, DEVICE_CODE_GRANT};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
const CREDENTIALS_FILE: &str = "credentials.json";
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
const WHOAMI: &str = "{ viewer { kind app { id name } user { id email displayName } } }";

/// `$ORBIT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/orbit`, else `~/.config/orbit`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("ORBIT_CONFIG_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CONFIG_HOME").filter(|dir| dir.is_absolute()) {
        return Ok(dir.join("orbit"));
    }
    let home = var("HOME").context("no home directory: set ORBIT_CONFIG_DIR")?;
    Ok(home.join(".config").join("orbit"))
}

/// What `orbit login` stores (`credentials.json`, mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub client_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// The server's answer to `/oauth/device/authorize`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
}

#[derive(Deserialize)]
struct OAuthErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// An OAuth endpoint's answer: tokens, or the error the RFC names.
enum Answer<T> {
    Ok(T),
    Error(OAuthErrorAnswer),
}

async fn post_form<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Answer<T>> {
    let response = http
        .post(url)
        .form(form)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if status.is_success() {
        return Ok(Answer::Ok(
            serde_json::from_slice(&body).context("unexpected answer from the server")?,
        ));
    }
    match serde_json::from_slice::<OAuthErrorAnswer>(&body) {
        Ok(error) => Ok(Answer::Error(error)),
        Err(_) => bail!("{url} answered {status}"),
    }
}

/// Runs the device flow against `server` as `client_id` (`orbit-cli` for
/// developers). `show` is told the code and where to enter it; `sleep`
/// waits between polls (tests pass one that moves their clock). The
/// tokens are stored in `config_dir` and returned.
pub async fn login<Sleep, Slept>(
    server: &str,
    client_id: &str,
    config_dir: &Path,
    show: impl FnOnce(&DeviceAuthorization),
    mut sleep: Sleep,
) -> anyhow::Result<Credentials>
where
    Sleep: FnMut(Duration) -> Slept,
    Slept: Future<Output = ()>,
{
    let server = server.trim_end_matches('/');
    let http = reqwest::Client::new();
    let authorization = match post_form::<DeviceAuthorization>(
        &http,
        &format!("{server}/oauth/device/authorize"),
        &[("client_id", client_id)],
    )
    .await?
    {
        Answer::Ok(authorization) => authorization,
        Answer::Error(error) => bail!("{}: {}", error.error, error.error_description),
    };
    show(&authorization);
    let token_url = format!("{server}/oauth/token");
    let mut interval = Duration::from_secs(authorization.interval.max(1));
    loop {
        sleep(interval).await;
        let answer = post_form::<TokenAnswer>(
            &http,
            &token_url,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", &authorization.device_code),
                ("client_id", client_id),
            ],
        )
        .await?;
        match answer {
            Answer::Ok(tokens) => {
                let credentials = Credentials {
                    server: server.to_owned(),
                    client_id: client_id.to_owned(),
                    access_token: tokens.access_token,
                    refresh_token: tokens.refresh_token,
                };
                save(config_dir, &credentials)?;
                return Ok(credentials);
            }
            Answer::Error(error) => match error.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += SLOW_DOWN_STEP,
                "access_denied" => bail!("the sign-in was denied"),
                "expired_token" => {
                    bail!("the code expired before it was approved: run orbit login again")
                }
                other => bail!("{other}: {}", error.error_description),
            },
        }
    }
}

/// Who the stored credentials are: the server's `viewer`.
pub async fn whoami(config_dir: &Path) -> anyhow::Result<Value> {
    let data = graphql(config_dir, WHOAMI, json!({})).await?;
    Ok(data["viewer"].clone())
}

/// Runs one GraphQL operation as the stored sign-in and returns its
/// `data`; an error in the answer is an error here. An access token the
/// server turns away (expired) is refreshed once through `/oauth/token`,
/// and the new tokens are stored. The server decides, not the local clock,
/// and a request it turned away never ran, so retrying a mutation is safe.
pub async fn graphql(config_dir: &Path, query: &str, variables: Value) -> anyhow::Result<Value> {
    let mut credentials = load(config_dir)?;
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", credentials.server);
    let ask = |token: String| {
        let request = http
            .post(&graphql)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }));
        async move {
            let response = request.send().await.context("cannot reach the server")?;
            let status = response.status();
            let body: Value = response.json().await.context("unexpected answer")?;
            anyhow::Ok((status, body))
        }
    };
    let (mut status, mut body) = ask(credentials.access_token.clone()).await?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        let refreshed = post_form::<TokenAnswer>(
            &http,
            &format!("{}/oauth/token", credentials.server),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &credentials.refresh_token),
                ("client_id", &credentials.client_id),
            ],
        )
        .await?;
        match refreshed {
            Answer::Ok(tokens) => {
                credentials.access_token = tokens.access_token;
                credentials.refresh_token = tokens.refresh_token;
                save(config_dir, &credentials)?;
            }
            Answer::Error(error) => bail!(
                "the stored sign-in is no longer valid ({}): run orbit login",
                error.error
            ),
        }
        (status, body) = ask(credentials.access_token.clone()).await?;
    }
    if let Some(error) = body["errors"].get(0) {
        let message = error["message"].as_str().unwrap_or("the server refused");
        match error["extensions"]["code"].as_str() {
            Some(code) => bail!("{message} ({code})"),
            None => bail!("{message}"),
        }
    }
    if !status.is_success() {
        bail!("the server answered {status}");
    }
    Ok(body["data"].clone())
}

/// One line for a person: who, in which app, on which server.
pub fn describe(viewer: &Value, server: &str) -> String {
    let user = &viewer["user"];
    let name = user["displayName"].as_str().unwrap_or("?");
    let email = user["email"].as_str().unwrap_or("?");
    let id = user["id"].as_str().unwrap_or("?");
    let app = viewer["app"]["name"].as_str().unwrap_or("?");
    let kind = viewer["kind"].as_str().unwrap_or("?");
    format!("{name} <{email}> ({id}), {kind} of app {app} on {server}")
}

pub fn load(config_dir: &Path) -> anyhow::Result<Credentials> {
    let path = config_dir.join(CREDENTIALS_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("not logged in (no {}): run orbit login", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// Writes the credentials readable by the user alone: a fresh file created
/// 0600 in a 0700 directory, then renamed over the old one.
pub fn save(config_dir: &Path, credentials: &Credentials) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(config_dir)
        .with_context(|| format!("creating {}", config_dir.display()))?;
    let path = config_dir.join(CREDENTIALS_FILE);
    let temporary = config_dir.join(format!("{CREDENTIALS_FILE}.tmp"));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    file.write_all(serde_json::to_string_pretty(credentials)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The client id `orbit login` uses unless told otherwise.
pub fn default_client_id() -> &'static str {
    CLI_CLIENT_ID
}
