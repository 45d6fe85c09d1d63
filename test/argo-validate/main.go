// argo-validate checks Argo WorkflowTemplate manifests offline, the way the Argo server would
// before accepting them:
//
//  1. structural check against the WorkflowTemplate CRD's openAPIV3Schema (--crd, the v4.1.2 CRD
//     committed under crds/): unknown fields, wrong types, missing required fields, enum values;
//     this is what catches fields Argo v4 removed (e.g. the singular synchronization.mutex);
//  2. strict decoding into Argo's Go types (unknown fields are errors, not silently dropped);
//  3. Argo's own semantic validation (validate.ValidateWorkflowTemplate): template names,
//     parameter references, steps, onExit, retry strategies, metrics, ...
//
// CronWorkflows are checked too: their workflowSpec against the same schema, then Argo's
// ValidateCronWorkflow.
//
// Usage: argo-validate --crd CRD.yaml FILE...   (multi-document YAML; documents other than
// WorkflowTemplates and CronWorkflows are skipped). Exit 0 when every WorkflowTemplate is valid, 1 with the reasons on
// stderr otherwise, 2 on usage errors.
//
// The Go validation is the v3 line's (versions.json argoWorkflowsPrevious): this file has no
// go.mod of its own, test/peers/install.d/argo-validate.sh builds it as a command inside a copy
// of that Argo module. The v4 schema check (step 1) covers what v4 changed in the WorkflowTemplate
// API. See README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	"github.com/sirupsen/logrus"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// noTemplates resolves no templateRefs: model-mirror's template is self-contained.
type noTemplates struct{}

func (noTemplates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	return nil, fmt.Errorf("workflowTemplateRef %q: references to other WorkflowTemplates are not supported here", name)
}

type noClusterTemplates struct{}

func (noClusterTemplates) Get(name string) (*wfv1.ClusterWorkflowTemplate, error) {
	return nil, fmt.Errorf("clusterWorkflowTemplateRef %q: references to ClusterWorkflowTemplates are not supported here", name)
}

var (
	_ templateresolution.WorkflowTemplateNamespacedGetter = noTemplates{}
	_ templateresolution.ClusterWorkflowTemplateGetter    = noClusterTemplates{}
)

func main() {
	crdPath := flag.String("crd", "", "WorkflowTemplate CRD YAML (Argo v4.1.2) whose openAPIV3Schema documents are checked against (required)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: argo-validate --crd CRD.yaml FILE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	// The CRD check is what holds documents to the v4 API (the Go types below are v3's, which
	// still accept fields v4 removed), so it is not optional.
	if flag.NArg() == 0 || *crdPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	logrus.SetLevel(logrus.ErrorLevel)

	schema, err := loadCRDSchema(*crdPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argo-validate: %s: %v\n", *crdPath, err)
		os.Exit(2)
	}

	found, failed := 0, 0
	for _, file := range flag.Args() {
		docs, err := readDocuments(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			failed++
			continue
		}
		for i, doc := range docs {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				fmt.Fprintf(os.Stderr, "%s: document %d: %v\n", file, i+1, err)
				failed++
				continue
			}
			if head.Kind != "WorkflowTemplate" && head.Kind != "CronWorkflow" {
				continue
			}
			found++
			where := fmt.Sprintf("%s: %s %q", file, head.Kind, head.Metadata.Name)
			checkDoc := check
			if head.Kind == "CronWorkflow" {
				checkDoc = checkCron
			}
			if errs := checkDoc(doc, schema); len(errs) > 0 {
				failed++
				for _, e := range errs {
					fmt.Fprintf(os.Stderr, "%s: %s\n", where, e)
				}
				continue
			}
			for _, t := range templated {
				fmt.Printf("%s: note: templated value %s\n", where, t)
			}
			templated = nil
			fmt.Printf("%s: valid\n", where)
		}
	}
	if found == 0 && failed == 0 {
		fmt.Fprintln(os.Stderr, "argo-validate: no WorkflowTemplate found in the given files")
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// check runs the three checks on one document; each step only runs when the previous passed, so
// the first message names the real cause.
func check(doc []byte, schema map[string]interface{}) []string {
	templated = nil
	var obj interface{}
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return []string{err.Error()}
	}
	if errs := checkSchema("", obj, schema); len(errs) > 0 {
		sort.Strings(errs)
		return errs
	}
	var wftmpl wfv1.WorkflowTemplate
	if err := yaml.UnmarshalStrict(doc, &wftmpl); err != nil {
		return []string{"strict decode: " + err.Error()}
	}
	if err := validate.ValidateWorkflowTemplate(noTemplates{}, noClusterTemplates{}, &wftmpl, nil, validate.ValidateOpts{}); err != nil {
		return []string{"argo validation: " + err.Error()}
	}
	return nil
}

// checkCron checks a CronWorkflow: its workflowSpec against the same schema as a
// WorkflowTemplate's spec (both are a WorkflowSpec; the CronWorkflow CRD is not committed), then
// a strict decode and Argo's ValidateCronWorkflow (schedules, time zone, policy, the workflow).
func checkCron(doc []byte, schema map[string]interface{}) []string {
	templated = nil
	var obj struct {
		Metadata map[string]interface{} `json:"metadata"`
		Spec     struct {
			WorkflowSpec interface{} `json:"workflowSpec"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return []string{err.Error()}
	}
	asTemplate := map[string]interface{}{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": obj.Metadata, "spec": obj.Spec.WorkflowSpec,
	}
	if errs := checkSchema("", asTemplate, schema); len(errs) > 0 {
		for i, e := range errs {
			errs[i] = strings.Replace(e, "spec.", "spec.workflowSpec.", 1)
		}
		sort.Strings(errs)
		return errs
	}
	var cron wfv1.CronWorkflow
	if err := yaml.UnmarshalStrict(doc, &cron); err != nil {
		return []string{"strict decode: " + err.Error()}
	}
	if err := validate.ValidateCronWorkflow(context.Background(), noTemplates{}, noClusterTemplates{}, &cron, nil); err != nil {
		return []string{"argo validation: " + err.Error()}
	}
	return nil
}

func readDocuments(file string) ([][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 && !isOnlyComments(doc) {
			docs = append(docs, doc)
		}
	}
}

func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// loadCRDSchema returns the openAPIV3Schema of the CRD's served version (the first one when
// several are served).
func loadCRDSchema(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema map[string]interface{} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("not a CustomResourceDefinition (kind %q)", crd.Kind)
	}
	for _, v := range crd.Spec.Versions {
		if v.Served && v.Schema.OpenAPIV3Schema != nil {
			return v.Schema.OpenAPIV3Schema, nil
		}
	}
	return nil, fmt.Errorf("no served version with an openAPIV3Schema")
}

// checkSchema walks value against a structural OpenAPI v3 schema the way the API server's
// strict field validation does: unknown fields, types, required fields and enums.
func checkSchema(path string, value interface{}, schema map[string]interface{}) []string {
	if value == nil {
		if nullable, _ := schema["nullable"].(bool); nullable {
			return nil
		}
	}
	if preserve, _ := schema["x-kubernetes-preserve-unknown-fields"].(bool); preserve {
		return nil
	}
	var errs []string
	if str, ok := value.(string); ok {
		errs = append(errs, checkString(path, str, schema)...)
	}
	if intOrString, _ := schema["x-kubernetes-int-or-string"].(bool); intOrString {
		switch value.(type) {
		case string, float64, int64:
			return errs
		default:
			return []string{fmt.Sprintf("%s: must be an integer or a string, got %s", display(path), typeName(value))}
		}
	}
	if enum, ok := schema["enum"].([]interface{}); ok && len(enum) > 0 {
		allowed := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(value) {
				allowed = true
				break
			}
		}
		if !allowed {
			errs = append(errs, fmt.Sprintf("%s: unsupported value %v, allowed: %v", display(path), value, enum))
		}
	}
	want, _ := schema["type"].(string)
	switch v := value.(type) {
	case map[string]interface{}:
		if want != "" && want != "object" {
			return append(errs, fmt.Sprintf("%s: must be %s, got object", display(path), want))
		}
		props, _ := schema["properties"].(map[string]interface{})
		for _, req := range asStrings(schema["required"]) {
			if _, ok := v[req]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field missing", display(join(path, req))))
			}
		}
		for key, child := range v {
			childPath := join(path, key)
			if props != nil {
				if ps, ok := props[key].(map[string]interface{}); ok {
					errs = append(errs, checkSchema(childPath, child, ps)...)
					continue
				}
			}
			switch ap := schema["additionalProperties"].(type) {
			case map[string]interface{}:
				errs = append(errs, checkSchema(childPath, child, ap)...)
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: unknown field", display(childPath)))
				}
			default:
				if props != nil {
					errs = append(errs, fmt.Sprintf("%s: unknown field", display(childPath)))
				}
				// A bare `type: object` (e.g. metadata) accepts anything, as the API server does.
			}
		}
	case []interface{}:
		if want != "" && want != "array" {
			return append(errs, fmt.Sprintf("%s: must be %s, got array", display(path), want))
		}
		if max, ok := schema["maxItems"].(float64); ok && float64(len(v)) > max {
			errs = append(errs, fmt.Sprintf("%s: must have at most %d items", display(path), int(max)))
		}
		if items, ok := schema["items"].(map[string]interface{}); ok {
			for i, child := range v {
				errs = append(errs, checkSchema(fmt.Sprintf("%s[%d]", path, i), child, items)...)
			}
		}
	default:
		if want != "" && !scalarMatches(want, value) {
			errs = append(errs, fmt.Sprintf("%s: must be %s, got %s", display(path), want, typeName(value)))
		}
	}
	return errs
}

// checkString applies pattern, minLength and maxLength. A value holding an Argo template tag
// ({{...}}) is exempt from `pattern`: Argo substitutes it before the value is used (e.g. a PVC size
// from a workflow parameter). Such values are listed on stdout so they stay visible; note that an
// API server serving the *full* CRD would still apply the pattern to the unsubstituted string.
func checkString(path, s string, schema map[string]interface{}) []string {
	var errs []string
	if min, ok := schema["minLength"].(float64); ok && float64(len([]rune(s))) < min {
		errs = append(errs, fmt.Sprintf("%s: must be at least %d characters", display(path), int(min)))
	}
	if max, ok := schema["maxLength"].(float64); ok && float64(len([]rune(s))) > max {
		errs = append(errs, fmt.Sprintf("%s: must be at most %d characters", display(path), int(max)))
	}
	if pattern, ok := schema["pattern"].(string); ok {
		if strings.Contains(s, "{{") {
			templated = append(templated, fmt.Sprintf("%s=%q (pattern %s applies after Argo substitution)", display(path), s, pattern))
		} else if re, err := regexp.Compile(pattern); err == nil && !re.MatchString(s) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", display(path), s, pattern))
		}
	}
	return errs
}

// templated collects pattern-checked fields whose value is an Argo template tag.
var templated []string

func scalarMatches(want string, value interface{}) bool {
	switch want {
	case "string":
		_, ok := value.(string)
		return ok
	case "boolean":
		_, ok := value.(bool)
		return ok
	case "integer":
		f, ok := value.(float64)
		return ok && f == float64(int64(f))
	case "number":
		_, ok := value.(float64)
		return ok
	default:
		return false
	}
}

func typeName(value interface{}) string {
	switch value.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]interface{}:
		return "object"
	case []interface{}:
		return "array"
	default:
		return fmt.Sprintf("%T", value)
	}
}

func asStrings(v interface{}) []string {
	list, _ := v.([]interface{})
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func display(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}
