// Package compose holds no code: its tests check the docker-compose example
// (compose.yaml, config.yaml) and the repository's Dockerfile without a Docker
// engine: every service, port, volume and environment variable they name must
// exist in the example and in what fieldseal reads.
package compose
