# The two commands a newcomer needs are in the README: `make quickstart` and `make test`.
.PHONY: quickstart test build vet fmt

quickstart:
	bash examples/quickstart/run.sh

# Installs the test tools it lacks (json-server, moto, local-kms, helm; with
# FIELDSEAL_E2E=1 also etcd and kube-apiserver) into .cache/ (.ci/tools.sh), starts
# the AWS emulators on 127.0.0.1 and runs every test.
test:
	bash scripts/test.sh

build:
	CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/fieldseal ./cmd/fieldseal-injector

vet:
	go vet ./...

fmt:
	gofmt -l -w .
