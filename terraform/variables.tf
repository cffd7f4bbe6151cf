variable "project_id" {
  description = "Google Cloud project that runs the agent and the services it benchmarks."
  type        = string
}

variable "region" {
  description = "Cloud Run region of the agent, its queue and the services it deploys."
  type        = string
  default     = "us-central1"
}

variable "service_type" {
  description = "Service type the agent benchmarks (manifest.yaml service_type); names the service and its accounts."
  type        = string
  default     = "discord-webhook"

  validation {
    # Service account ids have at most 30 characters: TYPE-perf-agent.
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}$", var.service_type))
    error_message = "service_type must be lowercase letters, digits and hyphens, start with a letter and have at most 19 characters."
  }
}

variable "image" {
  description = "Agent image built from container/Dockerfile, e.g. us-central1-docker.pkg.dev/PROJECT/perf/discord-webhook-perf-agent:TAG."
  type        = string
}

variable "manager_service_accounts" {
  description = "Emails of the Perf Manager's service accounts: they get roles/run.invoker on the agent and are put in ALLOWED_INVOKERS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.manager_service_accounts : can(regex("^[^@,\\s]+@[^@,\\s]+$", e))])
    error_message = "Each manager service account must be an email address without commas or spaces."
  }
}

variable "agent_url" {
  description = "Base URL of the agent (AGENT_URL): the audience of the ID tokens it accepts and the base of the URL the scheduler calls. Empty means the deterministic URL https://SERVICE-PROJECT_NUMBER.REGION.run.app."
  type        = string
  default     = ""
}

variable "state_bucket" {
  description = "Cloud Storage bucket of run state (STATE_BUCKET). Empty means PROJECT-perf-agent-state."
  type        = string
  default     = ""
}

variable "registry_bucket" {
  description = "Cloud Storage bucket of registration manifests (REGISTRY_BUCKET). Empty means PROJECT-perf-agent-registry."
  type        = string
  default     = ""
}

variable "create_registry_bucket" {
  description = "Create the registry bucket here. Set false when the Perf Manager's project owns a registry bucket shared by several agents; the agent still gets write access to its own manifest in it."
  type        = bool
  default     = true
}

variable "state_retention_days" {
  description = "Days after which run state objects are deleted; 0 keeps them."
  type        = number
  default     = 90
}

variable "measure_trigger" {
  description = "What calls /measure after the idle period: scheduler (Cloud Scheduler) or tasks (Cloud Tasks)."
  type        = string
  default     = "scheduler"

  validation {
    condition     = contains(["scheduler", "tasks"], var.measure_trigger)
    error_message = "measure_trigger must be scheduler or tasks."
  }
}

variable "tasks_queue" {
  description = "Cloud Tasks queue of measure tasks (CLOUD_TASKS_QUEUE)."
  type        = string
  default     = "perf-measure-queue"
}

variable "implementation_registry" {
  description = "Registry prefix of the implementation images the agent deploys (IMAGE_REGISTRY), e.g. us-central1-docker.pkg.dev/PROJECT/perf."
  type        = string
}

variable "implementation_tag" {
  description = "Tag of the implementation images (IMAGE_TAG)."
  type        = string
  default     = "latest"
}

variable "services_runtime_account" {
  description = "Service account the deployed services run as; the agent gets actAs on it. The agent names no account in the services it deploys, so Cloud Run uses the Compute Engine default account, which empty means. Change it only together with the agent."
  type        = string
  default     = ""
}

variable "cpu" {
  description = "CPU limit of an agent instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of an agent instance."
  type        = string
  default     = "512Mi"
}

variable "max_instances" {
  description = "Most agent instances at once. Every phase change is claimed in storage, so several instances are safe."
  type        = number
  default     = 3
}

variable "deletion_protection" {
  description = "Keep terraform destroy from deleting the agent service; set false before removing it."
  type        = bool
  default     = true
}
