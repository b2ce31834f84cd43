"""The networks: the report's two CNNs (cnn), ResNet18 with its pretrained weights (resnet),
and the forensic input filters of notebook 06's attempts (forensics).

Modules only; each name is imported from the module that defines it.
"""
