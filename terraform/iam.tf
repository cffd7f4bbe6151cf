# Roles of the agent and of its callers, each on the narrowest resource
# that works. The agent gets no project-wide write access beyond Cloud Run
# and Cloud Scheduler jobs.

locals {
  agent_member = "serviceAccount:${google_service_account.agent.email}"
}

# Deploy, read and delete the services under test. Google's role reference
# lists run.routes.* in this role, so it also lets the agent call services
# that require authentication; it cannot change IAM policies.
resource "google_project_iam_member" "agent_run_developer" {
  project = var.project_id
  role    = "roles/run.developer"
  member  = local.agent_member
}

# Deploying a service that runs as an account needs actAs on that account.
resource "google_service_account_iam_member" "agent_acts_as_services" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${local.services_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.agent_member
}

# A scheduler job or task that sends the trigger account's OIDC token needs
# actAs on that account.
resource "google_service_account_iam_member" "agent_acts_as_trigger" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.agent_member
}

# The agent creates, reads and deletes its measure jobs and nothing else of
# Cloud Scheduler. NOTE: a deleted custom role keeps its id for 37 days, so
# destroying and re-creating this configuration within that time fails
# until the role is undeleted (gcloud iam roles undelete).
resource "google_project_iam_custom_role" "scheduler_jobs" {
  role_id     = "perfAgentSchedulerJobs_${replace(var.service_type, "-", "_")}"
  title       = "perf agent scheduler jobs (${var.service_type})"
  description = "Create, get and delete Cloud Scheduler jobs for perf-agent measure triggers."
  permissions = [
    "cloudscheduler.jobs.create",
    "cloudscheduler.jobs.delete",
    "cloudscheduler.jobs.get",
  ]
}

resource "google_project_iam_member" "agent_scheduler" {
  project = var.project_id
  role    = google_project_iam_custom_role.scheduler_jobs.id
  member  = local.agent_member
}

resource "google_cloud_tasks_queue_iam_member" "agent_enqueuer" {
  name     = google_cloud_tasks_queue.measure.name
  location = var.region
  role     = "roles/cloudtasks.enqueuer"
  member   = local.agent_member
}

resource "google_cloud_tasks_queue_iam_member" "agent_task_deleter" {
  name     = google_cloud_tasks_queue.measure.name
  location = var.region
  role     = "roles/cloudtasks.taskDeleter"
  member   = local.agent_member
}

# Run state: read, write, list and delete, in the state bucket only.
resource "google_storage_bucket_iam_member" "agent_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectAdmin"
  member = local.agent_member
}

# Registration writes agents/SERVICE_TYPE.yaml. Replacing an existing
# object needs storage.objects.delete as well as create, which
# roles/storage.objectCreator lacks, so the grant is objectUser limited to
# that one object by a condition.
resource "google_storage_bucket_iam_member" "agent_registry" {
  bucket = var.create_registry_bucket ? google_storage_bucket.registry[0].name : local.registry_bucket
  role   = "roles/storage.objectUser"
  member = local.agent_member

  condition {
    title      = "own-manifest-only"
    expression = "resource.name == \"projects/_/buckets/${local.registry_bucket}/objects/agents/${var.service_type}.yaml\""
  }
}

# Instance counts of the services under test (scale-to-zero checks).
resource "google_project_iam_member" "agent_monitoring" {
  project = var.project_id
  role    = "roles/monitoring.viewer"
  member  = local.agent_member
}

# Request log entries of the services under test (which instance served).
resource "google_project_iam_member" "agent_logging" {
  project = var.project_id
  role    = "roles/logging.viewer"
  member  = local.agent_member
}

# Callers of the Agent API: the Perf Manager, and the scheduler or queue
# through the trigger account. Cloud Run checks this role; the agent also
# checks the token's email against ALLOWED_INVOKERS.
resource "google_cloud_run_v2_service_iam_member" "manager_invoker" {
  for_each = toset(var.manager_service_accounts)
  name     = google_cloud_run_v2_service.agent.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value}"
}

resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  name     = google_cloud_run_v2_service.agent.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger.email}"
}
