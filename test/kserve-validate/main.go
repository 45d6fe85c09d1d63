// kserve-validate checks custom resources offline the way a Kubernetes API server does when it
// admits them, using the API server's own code (k8s.io/apiextensions-apiserver at the pinned
// Kubernetes version):
//
//  1. the CRD's openAPIV3Schema must be a structural schema (as the API server requires);
//  2. unknown fields are errors (the server prunes them; kubectl --validate=strict refuses them);
//  3. OpenAPI schema validation (types, enums, required, formats, patterns);
//  4. the CRD's CEL rules (x-kubernetes-validations);
//  5. embedded ObjectMeta checks.
//
// Usage: kserve-validate --crd CRD.yaml FILE...  (multi-document YAML; documents whose kind is not
// the CRD's kind are skipped). Exit 0 when every matching document is valid, 1 with the reasons on
// stderr otherwise, 2 on usage errors.
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

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type versionSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func main() {
	crdPath := flag.String("crd", "", "CustomResourceDefinition YAML to validate against (required)")
	flag.Parse()
	if flag.NArg() == 0 || *crdPath == "" {
		fmt.Fprintln(os.Stderr, "usage: kserve-validate --crd CRD.yaml FILE...")
		os.Exit(2)
	}
	kind, versions, err := loadCRD(*crdPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kserve-validate: %s: %v\n", *crdPath, err)
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
		for _, doc := range docs {
			var obj map[string]interface{}
			if err := yaml.Unmarshal(doc, &obj); err != nil || obj == nil {
				continue
			}
			if obj["kind"] != kind {
				continue
			}
			found++
			name, _ := obj["metadata"].(map[string]interface{})["name"].(string)
			where := fmt.Sprintf("%s: %s %q", file, kind, name)
			errs := check(obj, versions)
			if len(errs) > 0 {
				failed++
				for _, e := range errs {
					fmt.Fprintf(os.Stderr, "%s: %s\n", where, e)
				}
				continue
			}
			fmt.Printf("%s: valid\n", where)
		}
	}
	if found == 0 && failed == 0 {
		fmt.Fprintf(os.Stderr, "kserve-validate: no %s found in the given files\n", kind)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func check(obj map[string]interface{}, versions map[string]versionSchema) []string {
	apiVersion, _ := obj["apiVersion"].(string)
	var vs versionSchema
	ok := false
	for v, s := range versions {
		if apiVersion == v {
			vs, ok = s, true
		}
	}
	if !ok {
		return []string{fmt.Sprintf("apiVersion %q is not served by this CRD", apiVersion)}
	}
	var out []string
	// The server would drop these silently; a manifest that relies on them is wrong.
	pruned := pruning.PruneWithOptions(deepCopy(obj), vs.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range pruned {
		out = append(out, fmt.Sprintf("unknown field %q", p))
	}
	var errs field.ErrorList
	errs = append(errs, objectmeta.Validate(nil, obj, vs.structural, true)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, vs.validator)...)
	if vs.cel != nil {
		celErrs, _ := vs.cel.Validate(context.Background(), nil, vs.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func deepCopy(obj map[string]interface{}) map[string]interface{} {
	data, _ := yaml.Marshal(obj)
	var out map[string]interface{}
	_ = yaml.Unmarshal(data, &out)
	return out
}

func loadCRD(path string) (string, map[string]versionSchema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return "", nil, err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return "", nil, errors.New("not a CustomResourceDefinition")
	}
	versions := map[string]versionSchema{}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return "", nil, fmt.Errorf("version %s: %v", v.Name, err)
		}
		structural, err := structuralschema.NewStructural(internal)
		if err != nil {
			return "", nil, fmt.Errorf("version %s: not a structural schema: %v", v.Name, err)
		}
		if errs := structuralschema.ValidateStructural(nil, structural); len(errs) > 0 {
			return "", nil, fmt.Errorf("version %s: not a structural schema: %v", v.Name, errs.ToAggregate())
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(internal)
		if err != nil {
			return "", nil, fmt.Errorf("version %s: %v", v.Name, err)
		}
		versions[crd.Spec.Group+"/"+v.Name] = versionSchema{
			structural: structural,
			validator:  validator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
	}
	if len(versions) == 0 {
		return "", nil, errors.New("no served version with an openAPIV3Schema")
	}
	return crd.Spec.Names.Kind, versions, nil
}

func readDocuments(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}
