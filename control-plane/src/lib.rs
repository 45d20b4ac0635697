//! The OmenDB control plane: REST API, accounts, tiers, billing and the provisioner that starts tenant
//! databases. Not built yet: see the README's status table (issue "Control plane").
