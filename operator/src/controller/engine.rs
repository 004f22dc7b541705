//! The calls the controller makes to the world, behind one trait: observing, writing one
//! change, listing what shoal manages, and the lease. `Docker` is the real one; unit
//! tests of the loop put a stand-in here (never in place of the lab, which proves the
//! real calls).

use std::future::Future;

use bollard::Docker;

use super::lease::{Lease, LeaseState};
use crate::observe::ObserveError;
use crate::observe::live::Live;
use crate::plan::{Change, Plan};
use crate::resources::{Desired, Kind};
use crate::swarm::apply::ApplyError;
use crate::swarm::engine::EngineError;
use crate::swarm::labels;

pub trait Engine: Send + Sync + 'static {
    /// Everything a plan of `desired` needs: the swarm, GlusterFS, the agents (on
    /// `agent_port`, unless none).
    fn observe(
        &self,
        desired: &Desired,
        agent_port: Option<u16>,
    ) -> impl Future<Output = Result<Live, ObserveError>> + Send;

    /// Makes one change (`revision` is recorded on the object).
    fn apply(
        &self,
        desired: &Desired,
        change: &Change,
        live: &Live,
        revision: Option<&str>,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;

    /// Starts the index heal of a GlusterVolume (`gluster volume heal NAME`), as the
    /// self-heal daemon's next crawl would, without waiting for it.
    fn heal(&self, volume: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Force-updates a service (`docker service update --force`): swarm replaces its tasks
    /// under its updateConfig, placing each anew. Returns the counter the new tasks carry.
    fn force_update(&self, service: &str) -> impl Future<Output = Result<u64, EngineError>> + Send;

    /// The services, networks, secrets and configs shoal manages, by kind and name.
    fn managed(&self) -> impl Future<Output = Result<Vec<(Kind, String)>, EngineError>> + Send;

    /// One round of taking or renewing the lease.
    fn acquire(
        &self,
        lease: &Lease,
    ) -> impl Future<Output = Result<LeaseState, bollard::errors::Error>> + Send;

    /// Gives the lease up.
    fn release(&self, lease: &Lease) -> impl Future<Output = ()> + Send;
}

impl Engine for Docker {
    async fn observe(
        &self,
        desired: &Desired,
        agent_port: Option<u16>,
    ) -> Result<Live, ObserveError> {
        crate::observe::observe(self, desired, agent_port).await
    }

    async fn apply(
        &self,
        desired: &Desired,
        change: &Change,
        live: &Live,
        revision: Option<&str>,
    ) -> Result<(), ApplyError> {
        let single = Plan {
            changes: vec![change.clone()],
            ..Plan::default()
        };
        crate::swarm::apply::apply(self, desired, &single, live, revision)
            .await
            .map(drop)
    }

    async fn heal(&self, volume: &str) -> Result<(), EngineError> {
        crate::gluster::cli::GlusterCli::default()
            .run_text(&["volume", "heal", volume])
            .await
            .map(drop)
            .map_err(EngineError::Gluster)
    }

    async fn force_update(&self, service: &str) -> Result<u64, EngineError> {
        crate::swarm::force::force_update(self, service).await
    }

    async fn managed(&self) -> Result<Vec<(Kind, String)>, EngineError> {
        let live = crate::observe::swarm::observe(self).await?;
        let services = live
            .services
            .iter()
            .filter_map(|s| s.spec.as_ref())
            .filter(|s| labels::is_managed(s.labels.as_ref()))
            .filter_map(|s| s.name.clone())
            .map(|name| (Kind::Service, name));
        let networks = live
            .networks
            .iter()
            .filter(|n| labels::is_managed(n.labels.as_ref()))
            .filter_map(|n| n.name.clone())
            .map(|name| (Kind::Network, name));
        let data = crate::plan::data::managed_objects(&live)
            .map(|object| (object.kind, object.name.to_string()));
        Ok(services.chain(networks).chain(data).collect())
    }

    async fn acquire(&self, lease: &Lease) -> Result<LeaseState, bollard::errors::Error> {
        lease.try_acquire(self).await
    }

    async fn release(&self, lease: &Lease) {
        lease.release(self).await
    }
}
