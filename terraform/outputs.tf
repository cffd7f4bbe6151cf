output "url" {
  description = "URL Cloud Run assigned to the agent service."
  value       = google_cloud_run_v2_service.agent.uri
}

output "agent_url" {
  description = "AGENT_URL: the audience of the ID tokens the Perf Manager must send, and the base URL to register."
  value       = local.agent_url
}

output "agent_service_account" {
  description = "Identity the agent runs as."
  value       = google_service_account.agent.email
}

output "trigger_service_account" {
  description = "Identity whose OIDC token the measure trigger sends (SERVICE_ACCOUNT)."
  value       = google_service_account.trigger.email
}

output "state_bucket" {
  value = google_storage_bucket.state.name
}

output "registry_bucket" {
  value = local.registry_bucket
}

output "tasks_queue" {
  value = google_cloud_tasks_queue.measure.id
}
