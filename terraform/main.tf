# The perf-agent service on Cloud Run, its service accounts, the state and
# registry buckets and the Cloud Tasks queue. iam.tf grants the roles.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  service_name = "${var.service_type}-perf-agent"
  # Known before the service exists, so the service can carry its own URL.
  # NOTE: Cloud Run gives this form only when SERVICE-PROJECT_NUMBER fits
  # in a 63-character DNS label; set var.agent_url for longer names.
  deterministic_url = "https://${local.service_name}-${data.google_project.this.number}.${var.region}.run.app"
  agent_url         = var.agent_url != "" ? var.agent_url : local.deterministic_url
  state_bucket      = var.state_bucket != "" ? var.state_bucket : "${var.project_id}-perf-agent-state"
  registry_bucket   = var.registry_bucket != "" ? var.registry_bucket : "${var.project_id}-perf-agent-registry"
  default_compute   = "${data.google_project.this.number}-compute@developer.gserviceaccount.com"
  services_account  = var.services_runtime_account != "" ? var.services_runtime_account : local.default_compute
  allowed_invokers  = join(",", concat(var.manager_service_accounts, [google_service_account.trigger.email]))

  apis = [
    "run.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "storage.googleapis.com",
    "monitoring.googleapis.com",
    "logging.googleapis.com",
    "iam.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# The agent's own identity: it deploys and deletes services, creates and
# deletes the measure triggers, and reads and writes run state.
resource "google_service_account" "agent" {
  account_id   = "${var.service_type}-perf-agent"
  display_name = "${var.service_type} perf agent"
}

# The identity whose OIDC token Cloud Scheduler or Cloud Tasks sends to
# /measure (SERVICE_ACCOUNT). It can only invoke the agent.
resource "google_service_account" "trigger" {
  account_id   = "${var.service_type}-trigger"
  display_name = "${var.service_type} perf agent measure trigger"
}

resource "google_storage_bucket" "state" {
  name                        = local.state_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  dynamic "lifecycle_rule" {
    for_each = var.state_retention_days > 0 ? [1] : []
    content {
      condition {
        age = var.state_retention_days
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "registry" {
  count                       = var.create_registry_bucket ? 1 : 0
  name                        = local.registry_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  depends_on = [google_project_service.apis]
}

# Used when measure_trigger is tasks; cheap to keep either way.
resource "google_cloud_tasks_queue" "measure" {
  name     = var.tasks_queue
  location = var.region

  retry_config {
    max_attempts  = 5
    min_backoff   = "10s"
    max_backoff   = "300s"
    max_doublings = 4
  }

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_v2_service" "agent" {
  name                = local.service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account = google_service_account.agent.email
    # A legacy /benchmark call runs the whole benchmark within one request.
    timeout                          = "1800s"
    max_instance_request_concurrency = 80

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # CPU always allocated: /deploy and /measure answer at once and the
        # agent goes on deploying and measuring after the response. With
        # request-only CPU that work would be throttled between requests,
        # so it would crawl and its timings would be wrong.
        cpu_idle          = false
        startup_cpu_boost = true
      }

      # /health answers once every worker answers a ping.
      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 2
        timeout_seconds   = 2
        failure_threshold = 30
      }

      env {
        name  = "SERVICE_TYPE"
        value = var.service_type
      }
      env {
        name  = "GCP_PROJECT_ID"
        value = var.project_id
      }
      env {
        name  = "GCP_REGION"
        value = var.region
      }
      env {
        name  = "STATE_BUCKET"
        value = google_storage_bucket.state.name
      }
      env {
        name  = "REGISTRY_BUCKET"
        value = local.registry_bucket
      }
      env {
        name  = "AGENT_URL"
        value = local.agent_url
      }
      env {
        name  = "SERVICE_ACCOUNT"
        value = google_service_account.trigger.email
      }
      env {
        name  = "ALLOWED_INVOKERS"
        value = local.allowed_invokers
      }
      env {
        name  = "MEASURE_TRIGGER"
        value = var.measure_trigger
      }
      env {
        name  = "CLOUD_TASKS_QUEUE"
        value = google_cloud_tasks_queue.measure.name
      }
      env {
        name  = "IMAGE_REGISTRY"
        value = var.implementation_registry
      }
      env {
        name  = "IMAGE_TAG"
        value = var.implementation_tag
      }
    }
  }

  lifecycle {
    # gcloud run deploy, which the CI workflow runs, records itself here.
    ignore_changes = [client, client_version]
  }

  depends_on = [google_project_service.apis]
}
