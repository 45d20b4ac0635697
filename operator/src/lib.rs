//! The OmenDB Kubernetes operator: turns an `OmenDatabase` custom resource into the objects that run a tenant
//! database. Not built yet: see the README's status table (issue "Kubernetes operator").
