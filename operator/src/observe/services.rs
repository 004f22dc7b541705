//! The swarm's services as the engine answers them, health checks included. The engine
//! names a service's health check `Healthcheck`; bollard's models, which follow the API's
//! swagger, read `HealthCheck` and so lose it, and with it a service shoal did not create
//! would always seem to differ from desired-state. The list is read as JSON over the same
//! DOCKER_HOST and the key put right before the models read it. Over TLS (not spoken
//! here) bollard's list is used, and health checks come from shoal's label only.

use bollard::Docker;
use bollard::models::Service;
use bollard::query_parameters::ListServicesOptions;

use crate::swarm::engine::EngineError;

/// Services, with their running and desired task counts.
pub async fn list(docker: &Docker) -> Result<Vec<Service>, EngineError> {
    let Some((client, base)) = raw_client() else {
        let options = ListServicesOptions {
            status: Some(true),
            ..Default::default()
        };
        return docker
            .list_services(Some(options))
            .await
            .map_err(EngineError::call("listing services"));
    };
    let version = docker.client_version();
    let url = format!(
        "{base}/v{}.{}/services?status=true",
        version.major_version, version.minor_version
    );
    let read_error = |message: String| EngineError::Read {
        what: "listing services".to_string(),
        message,
    };
    let answer = client
        .get(url)
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .map_err(|error| read_error(error.to_string()))?
        .text()
        .await
        .map_err(|error| read_error(error.to_string()))?;
    from_engine_json(&answer).map_err(|error| read_error(error.to_string()))
}

/// An HTTP client for DOCKER_HOST when it is a unix socket or plain TCP.
fn raw_client() -> Option<(reqwest::Client, String)> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    if let Some(path) = host.strip_prefix("unix://") {
        let client = reqwest::Client::builder().unix_socket(path).build().ok()?;
        return Some((client, "http://engine".to_string()));
    }
    let address = host.strip_prefix("tcp://")?;
    if std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    Some((reqwest::Client::new(), format!("http://{address}")))
}

/// The engine's answer to a service list, read into bollard's models with each health
/// check kept. The key is renamed in the text, before parsing, which keeps reading 1,000
/// services as cheap as bollard's own list (a JSON tree first took 20 MB more). Only a
/// key matches: inside a string (a label's value) the quotes are escaped, `\"Healthcheck\":`.
pub fn from_engine_json(answer: &str) -> Result<Vec<Service>, serde_json::Error> {
    serde_json::from_str(&answer.replace("\"Healthcheck\":", "\"HealthCheck\":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_check_is_read_and_a_label_quoting_the_key_is_left_as_it_is() {
        let answer = r#"[{"ID": "s1", "Spec": {"Name": "web",
            "Labels": {"note": "{\"Healthcheck\": 1}"},
            "TaskTemplate": {"ContainerSpec": {"Image": "nginx",
                "Healthcheck": {"Test": ["CMD", "true"], "Retries": 3}}}}}]"#;
        let services = from_engine_json(answer).unwrap();
        let spec = services[0].spec.as_ref().unwrap();
        let container = spec.task_template.as_ref().unwrap().container_spec.as_ref();
        let check = container.unwrap().health_check.as_ref().unwrap();
        assert_eq!(check.test.as_deref().unwrap(), ["CMD", "true"]);
        assert_eq!(check.retries, Some(3));
        assert_eq!(
            spec.labels.as_ref().unwrap()["note"],
            r#"{"Healthcheck": 1}"#
        );
    }
}
