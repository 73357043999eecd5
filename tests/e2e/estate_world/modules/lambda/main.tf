# One function as the estate's own `modules/lambda` builds it: a role of its own with the
# AWS-managed policies and the inline policies the caller passes, a log group, the function
# (zip or container image). Code, layers and versions of zip functions are the deploy
# workflow's: Terraform ignores them after creation (the design's lifecycle rule).

variable "name" {
  type        = string
  description = "The function's full name"
}

variable "package_type" {
  type        = string
  description = "Zip or Image"
  default     = "Zip"
}

variable "handler" {
  type        = string
  description = "module.function for zip functions"
  default     = null
}

variable "filename" {
  type        = string
  description = "The package a zip function is created with"
  default     = null
}

variable "image_uri" {
  type        = string
  description = "The image an Image function runs"
  default     = null
}

variable "memory" {
  type        = number
  description = "MB"
}

variable "timeout" {
  type        = number
  description = "seconds"
}

variable "tracing" {
  type        = string
  description = "Active or PassThrough"
  default     = "Active"
}

variable "reserved" {
  type        = number
  description = "reserved concurrency, -1 for none"
  default     = -1
}

variable "layers" {
  type        = list(string)
  description = "Layer version ARNs Terraform attaches at creation"
  default     = []
}

variable "environment" {
  type        = map(string)
  description = "Environment variables"
  default     = {}
}

variable "vpc" {
  type        = object({ subnet_ids = list(string), security_group_ids = list(string) })
  description = "null: not in the VPC"
  default     = null
}

variable "inline_policies" {
  type        = map(string)
  description = "name => policy JSON, inline on the function's role"
  default     = {}
}

variable "log_retention" {
  type        = number
  description = "days"
  default     = 14
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = toset(concat(
    ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    var.vpc == null ? [] : ["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"],
    var.tracing == "Active" ? ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"] : [],
  ))
  role       = aws_iam_role.this.name
  policy_arn = each.value
}

resource "aws_iam_role_policy" "inline" {
  for_each = var.inline_policies
  name     = each.key
  role     = aws_iam_role.this.id
  policy   = each.value
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention
}

resource "aws_lambda_function" "this" {
  function_name                  = var.name
  role                           = aws_iam_role.this.arn
  package_type                   = var.package_type
  handler                        = var.package_type == "Zip" ? var.handler : null
  runtime                        = var.package_type == "Zip" ? "python3.12" : null
  filename                       = var.package_type == "Zip" ? var.filename : null
  image_uri                      = var.package_type == "Image" ? var.image_uri : null
  architectures                  = ["x86_64"]
  memory_size                    = var.memory
  timeout                        = var.timeout
  layers                         = var.layers
  reserved_concurrent_executions = var.reserved

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [1] : []
    content {
      variables = var.environment
    }
  }

  dynamic "vpc_config" {
    for_each = var.vpc == null ? [] : [var.vpc]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tracing_config {
    mode = var.tracing
  }

  lifecycle {
    # The deploy workflow updates code and attaches layers (design: "CI/CD manages versions").
    ignore_changes = [filename, source_code_hash, layers, image_uri]
  }
  depends_on = [aws_cloudwatch_log_group.this]
}

output "function_name" {
  value = aws_lambda_function.this.function_name
}

output "arn" {
  value = aws_lambda_function.this.arn
}

output "invoke_arn" {
  value = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  value = aws_iam_role.this.name
}

output "role_arn" {
  value = aws_iam_role.this.arn
}
