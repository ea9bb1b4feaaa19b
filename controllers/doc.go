// Package controllers reconciles each IngresseEvent into a derived ConfigMap
// of the same name and honest status conditions.
package controllers
