// Package docs holds fieldseal's user documentation (this directory's markdown
// files and the IAM policy documents in iam/). It has no code: its tests read the
// documentation of the whole repository (every markdown file, the IAM documents,
// the examples, the Helm chart's values.yaml and NOTES.txt) and check that it
// stands together:
//
//   - one set of example names everywhere: the Secrets Manager secret
//     fieldseal/keyring (the chart's default), the IAM roles fieldseal-sidecar and
//     fieldseal-rotator, region eu-west-1, account 111122223333, KMS alias
//     alias/fieldseal;
//   - the README's quick-start field map is the one in
//     examples/quickstart/fieldseal.yaml;
//   - every JSON error body shown has the shape the proxy sends,
//     {"error":{"code","message","request_id"}}, with a code the proxy has;
//   - every keys.* setting shown in a YAML example exists in docs/config.md, which
//     is generated from the config package;
//   - relative links resolve inside the repository and nothing points at documents
//     outside it;
//   - the docker-compose example is reset with `docker compose down -v`, which
//     drops the app's data together with the emulator's keys.
package docs
