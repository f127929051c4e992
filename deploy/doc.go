// Package deploy holds tests of the deployment files (Dockerfile, docker-compose.yml).
package deploy
