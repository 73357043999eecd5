# The running estate the design was written for (../shared/design/real-estate.md), staging,
# as its own Terraform root builds it: eleven functions (two container images), a role per
# function with inline policies (three on the API's role written by other modules of this
# root), five SQS workers reporting partial batch failures with dead-letter queues,
# schedules (one with an input), unqualified permissions, an HTTP API whose integration
# calls the unqualified function, provider default_tags, and resources outside the Lambda
# module that read its outputs (role name, security group, invoke ARN).
#
# Plain Terraform with its own state, applied to a moto server by tests/e2e. The deploy
# workflow's out-of-band part (layers on the zip workers, code, a version and the `staging`
# alias on the API) is tests/e2e/estate.py's `run_workflow`. Nothing here comes from our
# Python.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "endpoint" {
  type        = string
  description = "The moto server every AWS call goes to"
}

variable "package_zip" {
  type        = string
  description = "The fat package (app code plus every dependency) the zip functions start with"
}

variable "db_sync_zip" {
  type        = string
  description = "db-sync's own package"
}

variable "layer_zip" {
  type        = string
  description = "The deps layer's first content"
}

locals {
  env     = "staging"
  prefix  = "bluemoxon-staging"
  account = "123456789012"
  region  = "us-west-2"
  secret  = "arn:aws:secretsmanager:us-west-2:123456789012:secret:bluemoxon-staging-db-AbCdEf"
  vpc = {
    subnet_ids         = [for s in aws_subnet.private : s.id]
    security_group_ids = [aws_security_group.lambda.id]
  }
  # The API's configuration: about 25 variables in the real estate.
  api_environment = merge(
    { for i in range(20) : "SETTING_${i}" => "value-${i}" },
    {
      ENVIRONMENT         = local.env
      DATABASE_SECRET_ARN = local.secret
      CLEANUP_FUNCTION    = "${local.prefix}-cleanup"
      SCRAPER_FUNCTION    = "${local.prefix}-scraper"
      IMAGES_BUCKET       = "${local.prefix}-images"
    },
  )
  # name => handler, memory, timeout, tracing, reserved concurrency
  workers = {
    analysis-worker     = { handler = "app.worker.handler", memory = 256, timeout = 600, tracing = "Active", reserved = -1 }
    eval-runbook-worker = { handler = "app.eval_worker.handler", memory = 256, timeout = 600, tracing = "Active", reserved = -1 }
    profile-worker      = { handler = "app.services.profile_worker.handler", memory = 256, timeout = 600, tracing = "Active", reserved = 5 }
    tracking-worker     = { handler = "app.workers.tracking_worker.handler", memory = 512, timeout = 60, tracing = "PassThrough", reserved = 10 }
  }
  # Every queue-fed function, the image processor included: a job queue and a DLQ each.
  queues = toset(concat(keys(local.workers), ["image-processor"]))
  worker_policies = {
    for name in local.queues : name => {
      "${local.prefix}-${name}-queue" = jsonencode({
        Version   = "2012-10-17"
        Statement = [{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource = [aws_sqs_queue.jobs[name].arn] }]
      })
      "${local.prefix}-${name}-secrets" = jsonencode({
        Version   = "2012-10-17"
        Statement = [{ Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [local.secret] }]
      })
      "${local.prefix}-${name}-s3" = jsonencode({
        Version   = "2012-10-17"
        Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = ["arn:aws:s3:::${local.prefix}-images/*"] }]
      })
      "${local.prefix}-${name}-bedrock" = jsonencode({
        Version   = "2012-10-17"
        Statement = [{ Effect = "Allow", Action = ["bedrock:InvokeModel"], Resource = ["*"] }]
      })
    }
  }
  # The API's own nine inline policies; three more come from other modules below.
  api_policies = {
    for topic in ["secrets", "s3-images", "s3-frontend", "cognito", "bedrock", "ses", "cloudwatch", "xray-sampling", "kms"] :
    "${local.prefix}-api-${topic}" => jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Sid = replace(title(replace(topic, "-", " ")), " ", ""), Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::${local.prefix}-${topic}/*"] }]
    })
  }
}

provider "aws" {
  region                      = local.region
  access_key                  = "test"
  secret_key                  = "test"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    apigatewayv2 = var.endpoint
    ec2          = var.endpoint
    events       = var.endpoint
    iam          = var.endpoint
    lambda       = var.endpoint
    logs         = var.endpoint
    s3           = var.endpoint
    sqs          = var.endpoint
    sts          = var.endpoint
  }
  default_tags {
    tags = {
      Project     = "bluemoxon"
      Environment = "staging"
      ManagedBy   = "terraform"
    }
  }
}

# ---- network, storage, queues ------------------------------------------------------------

resource "aws_vpc" "main" {
  cidr_block = "10.30.0.0/16"
}

resource "aws_subnet" "private" {
  for_each          = { a = "10.30.1.0/24", b = "10.30.2.0/24" }
  vpc_id            = aws_vpc.main.id
  cidr_block        = each.value
  availability_zone = "${local.region}${each.key}"
}

resource "aws_security_group" "lambda" {
  name        = "${local.prefix}-api"
  description = "The API's security group, shared by every function in the VPC"
  vpc_id      = aws_vpc.main.id
}

resource "aws_s3_bucket" "frontend" {
  bucket = "bluemoxon-frontend-staging"
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues
  name     = "${local.prefix}-${each.key}-dlq"
}

resource "aws_sqs_queue" "jobs" {
  for_each                   = local.queues
  name                       = "${local.prefix}-${each.key}"
  visibility_timeout_seconds = 3600
}

resource "aws_sqs_queue_redrive_policy" "jobs" {
  for_each  = local.queues
  queue_url = aws_sqs_queue.jobs[each.key].id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = 3
  })
}

# ---- the deps layer (Terraform owns the layer; the workflow publishes later versions) ------

resource "aws_lambda_layer_version" "deps" {
  layer_name          = "${local.prefix}-deps"
  compatible_runtimes = ["python3.12"]
  filename            = var.layer_zip
  lifecycle {
    ignore_changes = [filename, source_code_hash]
  }
}

# ---- functions ---------------------------------------------------------------------------

module "api" {
  source          = "./modules/lambda"
  name            = "${local.prefix}-api"
  handler         = "app.main.handler"
  filename        = var.package_zip
  memory          = 512
  timeout         = 600
  layers          = [aws_lambda_layer_version.deps.arn]
  environment     = local.api_environment
  vpc             = local.vpc
  inline_policies = local.api_policies
}

module "worker" {
  source          = "./modules/lambda"
  for_each        = local.workers
  name            = "${local.prefix}-${each.key}"
  handler         = each.value.handler
  filename        = var.package_zip
  memory          = each.value.memory
  timeout         = each.value.timeout
  tracing         = each.value.tracing
  reserved        = each.value.reserved
  environment     = { ENVIRONMENT = local.env, DATABASE_SECRET_ARN = local.secret }
  vpc             = local.vpc
  inline_policies = local.worker_policies[each.key]
}

module "tracking_dispatcher" {
  source      = "./modules/lambda"
  name        = "${local.prefix}-tracking-dispatcher"
  handler     = "app.workers.tracking_dispatcher.handler"
  filename    = var.package_zip
  memory      = 256
  timeout     = 60
  tracing     = "PassThrough"
  environment = { ENVIRONMENT = local.env, TRACKING_QUEUE_URL = aws_sqs_queue.jobs["tracking-worker"].id }
  vpc         = local.vpc
  inline_policies = {
    "${local.prefix}-tracking-dispatcher-send" = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.jobs["tracking-worker"].arn] }]
    })
  }
}

module "cleanup" {
  source        = "./modules/lambda"
  name          = "${local.prefix}-cleanup"
  handler       = "lambdas.cleanup.handler.handler"
  filename      = var.package_zip
  memory        = 256
  timeout       = 300
  layers        = [aws_lambda_layer_version.deps.arn]
  environment   = { ENVIRONMENT = local.env, DATABASE_SECRET_ARN = local.secret }
  vpc           = local.vpc
  log_retention = 30
  inline_policies = {
    "${local.prefix}-cleanup-s3" = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["s3:ListBucket", "s3:DeleteObject"], Resource = ["arn:aws:s3:::${local.prefix}-images", "arn:aws:s3:::${local.prefix}-images/*"] }]
    })
  }
}

module "retry" {
  source        = "./modules/lambda"
  name          = "${local.prefix}-retry-queue-failed"
  handler       = "lambdas.retry_queue_failed.handler.handler"
  filename      = var.package_zip
  memory        = 256
  timeout       = 60
  layers        = [aws_lambda_layer_version.deps.arn]
  environment   = { ENVIRONMENT = local.env }
  vpc           = local.vpc
  log_retention = 30
  inline_policies = {
    "${local.prefix}-retry-queues" = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource = [for q in aws_sqs_queue.dlq : q.arn] }]
    })
  }
}

module "db_sync" {
  source      = "./modules/lambda"
  name        = "${local.prefix}-db-sync"
  handler     = "handler.handler"
  filename    = var.db_sync_zip
  memory      = 512
  timeout     = 900
  environment = { ENVIRONMENT = local.env, DATABASE_SECRET_ARN = local.secret }
  vpc         = local.vpc
  inline_policies = {
    "${local.prefix}-db-sync-secrets" = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["secretsmanager:GetSecretValue"], Resource = [local.secret] }]
    })
  }
}

module "image_processor" {
  source          = "./modules/lambda"
  name            = "${local.prefix}-image-processor"
  package_type    = "Image"
  image_uri       = "${local.account}.dkr.ecr.${local.region}.amazonaws.com/bluemoxon-image-processor:staging"
  memory          = 7168
  timeout         = 300
  reserved        = 2
  vpc             = local.vpc
  log_retention   = 30
  inline_policies = local.worker_policies["image-processor"]
}

module "scraper" {
  source       = "./modules/lambda"
  name         = "${local.prefix}-scraper"
  package_type = "Image"
  image_uri    = "${local.account}.dkr.ecr.${local.region}.amazonaws.com/bluemoxon-scraper:staging"
  memory       = 2048
  timeout      = 120
}

# ---- triggers ----------------------------------------------------------------------------

locals {
  queue_functions = merge(
    { for name, m in module.worker : name => m.arn },
    { image-processor = module.image_processor.arn },
  )
}

resource "aws_lambda_event_source_mapping" "jobs" {
  for_each                = local.queue_functions
  event_source_arn        = aws_sqs_queue.jobs[each.key].arn
  function_name           = each.value
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]
}

locals {
  # name => schedule, target function ARN, function name, input
  schedules = {
    tracking-dispatcher = { expression = "rate(1 hour)", arn = module.tracking_dispatcher.arn, function = module.tracking_dispatcher.function_name, input = null }
    retry-queue-failed  = { expression = "rate(5 minutes)", arn = module.retry.arn, function = module.retry.function_name, input = null }
    cleanup             = { expression = "rate(1 day)", arn = module.cleanup.arn, function = module.cleanup.function_name, input = jsonencode({ action = "all", dry_run = false }) }
    scraper-warmup      = { expression = "rate(5 minutes)", arn = module.scraper.arn, function = module.scraper.function_name, input = jsonencode({ warmup = true }) }
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = local.schedules
  name                = "${local.prefix}-${each.key}"
  schedule_expression = each.value.expression
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each  = local.schedules
  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = each.key
  arn       = each.value.arn
  input     = each.value.input
}

resource "aws_lambda_permission" "schedule" {
  for_each      = local.schedules
  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}

# ---- other modules of this root: API Gateway, and what they write on the API's role -------

resource "aws_apigatewayv2_api" "http" {
  name          = "${local.prefix}-api"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.api.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "default" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowAPIGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

# The scraper lets the API's role invoke it (the API calls it by name).
resource "aws_lambda_permission" "scraper_from_api" {
  statement_id  = "AllowApiRoleInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.scraper.function_name
  principal     = module.api.role_arn
}

# Written by the queues, cleanup and scraper modules onto the API's role.
resource "aws_iam_role_policy" "api_queue_send" {
  name = "${local.prefix}-api-queue-send"
  role = module.api.role_name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [for q in aws_sqs_queue.jobs : q.arn] }]
  })
}

resource "aws_iam_role_policy" "api_invoke_cleanup" {
  name = "${local.prefix}-api-invoke-cleanup"
  role = module.api.role_name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [module.cleanup.arn] }]
  })
}

resource "aws_iam_role_policy" "api_invoke_scraper" {
  name = "${local.prefix}-api-invoke-scraper"
  role = module.api.role_name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [module.scraper.arn] }]
  })
}

# The database module lets the Lambda security group in (reads the module's output).
resource "aws_security_group" "database" {
  name        = "${local.prefix}-db"
  description = "The database"
  vpc_id      = aws_vpc.main.id
}

resource "aws_security_group_rule" "database_from_lambda" {
  type                     = "ingress"
  from_port                = 5432
  to_port                  = 5432
  protocol                 = "tcp"
  security_group_id        = aws_security_group.database.id
  source_security_group_id = local.vpc.security_group_ids[0]
}

# ---- outputs other tooling reads ---------------------------------------------------------

output "api_role_name" {
  value = module.api.role_name
}

output "api_invoke_arn" {
  value = module.api.invoke_arn
}

output "http_api_id" {
  value = aws_apigatewayv2_api.http.id
}

output "subnet_ids" {
  value = local.vpc.subnet_ids
}

output "security_group_ids" {
  value = local.vpc.security_group_ids
}

output "layer_arn" {
  value = aws_lambda_layer_version.deps.arn
}
