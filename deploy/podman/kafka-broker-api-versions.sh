#!/bin/bash
# What the apache/kafka image's script of this name does: asks the brokers for their API versions.
exec java -Xmx128m -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -cp '/opt/kafka/libs/*' kafka.admin.BrokerApiVersionsCommand "$@"
