//! A blocking client of the control plane's REST API, used by the `mica` CLI (and tests).

use mica_control_api::{OperationResource, Problem};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the Mica control plane at {url}: {reason} (is `mica server` running? set --server or MICA_SERVER)"
    )]
    Unreachable { url: String, reason: String },
    /// The server answered with a problem document.
    #[error("{} (HTTP {})", .0.detail, .0.status)]
    Problem(Problem),
    #[error("unexpected answer from the control plane: {0}")]
    BadAnswer(String),
}

/// A client of one control plane.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// How long one API request may take.
const REQUEST_TIMEOUT_SECONDS: u64 = 60;

impl Client {
    /// `base` is the server URL (`http://127.0.0.1:9190`), `token` the API token.
    pub fn new(base: &str, token: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(REQUEST_TIMEOUT_SECONDS)))
            .build();
        Client {
            base: base.trim().trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            agent: config.new_agent(),
        }
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| unreachable(&url, e))?;
        read(response)
    }

    pub fn put<B: Serialize>(&self, path: &str, body: &B) -> Result<OperationResource, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .put(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .map_err(|e| unreachable(&url, e))?;
        read(response)
    }

    pub fn delete(&self, path: &str) -> Result<OperationResource, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .delete(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| unreachable(&url, e))?;
        read(response)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_empty()
            .map_err(|e| unreachable(&url, e))?;
        read(response)
    }

    /// POSTs a JSON body and reads a JSON answer (invokeCommand).
    pub fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .map_err(|e| unreachable(&url, e))?;
        read(response)
    }
}

fn unreachable(url: &str, e: ureq::Error) -> ClientError {
    ClientError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    }
}

fn read<T: DeserializeOwned>(mut response: ureq::http::Response<ureq::Body>) -> Result<T, ClientError> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
    if status >= 300 {
        return Err(match serde_json::from_str::<Problem>(&text) {
            Ok(p) => ClientError::Problem(p),
            Err(_) => ClientError::BadAnswer(format!("HTTP {status}: {text}")),
        });
    }
    serde_json::from_str(&text).map_err(|e| ClientError::BadAnswer(format!("{e}: {text}")))
}
