#!/usr/bin/env bash
# Fetches the example data sets from Debian packages into data/ (or $1), without
# installing the packages: apt-get download + dpkg-deb extraction. Needs apt-get (Debian 12)
# and network access. Licences: see data/README.md (written by this script).
#   diabetes.csv       Pima Indians diabetes, from weka's diabetes.arff (GPL-2+ package)
#   digits.csv         sklearn's 8x8 digits (BSD-3-Clause, python3-sklearn)
#   diabetes_reg.csv   sklearn's diabetes regression set (BSD-3-Clause, python3-sklearn)
#   fashion-mnist/     Fashion-MNIST IDX files (MIT, dataset-fashion-mnist)
#   fortunes.txt       fortune cookies, plain text (BSD-licensed package `fortunes`), the
#                      character-level GPT example's corpus
# Files that already exist are kept. With ../shared/data present (the project's CI), the
# copies there are used instead of downloading weka.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/data}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() {   # fetch PACKAGE: downloads the .deb once into $tmp
    local pkg=$1
    if ! ls "$tmp/${pkg}"_*.deb > /dev/null 2>&1; then
        (cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$pkg" > /dev/null 2>&1) || {
            apt-get update -qq > /dev/null 2>&1 || true
            (cd "$tmp" && apt-get download -o APT::Sandbox::User=root "$pkg" > /dev/null)
        }
    fi
}

extract() {   # extract PACKAGE PATH-IN-PACKAGE > stdout
    dpkg-deb --fsys-tarfile "$tmp/$1"_*.deb | tar -xO "./$2"
}

shared="$here/../shared/data"
sk=usr/lib/python3/dist-packages/sklearn/datasets/data

if [ ! -s "$out/diabetes.csv" ]; then
    if [ -s "$shared/diabetes.csv" ]; then
        cp "$shared/diabetes.csv" "$out/diabetes.csv"
    else
        fetch weka
        {
            echo "Pregnancies,Glucose,BloodPressure,SkinThickness,Insulin,BMI,DiabetesPedigreeFunction,Age,Outcome"
            extract weka usr/share/doc/weka/examples/diabetes.arff |
                awk 'BEGIN{d=0} /^@data/{d=1; next} d && NF && !/^%/' |
                sed -e 's/tested_positive/1/' -e 's/tested_negative/0/'
        } > "$out/diabetes.csv"
    fi
fi

if [ ! -s "$out/digits.csv" ]; then
    if [ -s "$shared/digits.csv.gz" ]; then
        gzip -dc "$shared/digits.csv.gz" > "$out/digits.csv"
    else
        fetch python3-sklearn
        extract python3-sklearn "$sk/digits.csv.gz" | gzip -dc > "$out/digits.csv"
    fi
fi

if [ ! -s "$out/diabetes_reg.csv" ]; then
    fetch python3-sklearn
    extract python3-sklearn "$sk/diabetes_data_raw.csv.gz" | gzip -dc | tr ' ' ',' > "$tmp/x.csv"
    extract python3-sklearn "$sk/diabetes_target.csv.gz" | gzip -dc > "$tmp/y.csv"
    {
        echo "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target"
        paste -d, "$tmp/x.csv" "$tmp/y.csv"
    } > "$out/diabetes_reg.csv"
fi

if [ "${TG_FETCH_FASHION:-1}" = 1 ] && [ ! -s "$out/fashion-mnist/t10k-labels-idx1-ubyte" ]; then
    fetch dataset-fashion-mnist
    mkdir -p "$out/fashion-mnist"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        extract dataset-fashion-mnist "usr/share/datasets/fashion-mnist/$f.gz" | gzip -dc > "$out/fashion-mnist/$f"
    done
fi

# The GPT example's corpus: a fixed list of the package's fortune files, concatenated in
# this order (records separated by "%" lines, as in the files). Left out: ASCII art, and the
# collections about ethnicity, gender, drugs and politics.
fortune_files="computers cookie definitions education food humorists kids law linux love
magic medicine miscellaneous news paradoxum people pets platitudes science songs-poems sports
startrek tao wisdom work zippy"
if [ ! -s "$out/fortunes.txt" ]; then
    fetch fortunes
    for f in $fortune_files; do
        extract fortunes "usr/share/games/fortunes/$f"
    done > "$tmp/fortunes.txt"
    mv "$tmp/fortunes.txt" "$out/fortunes.txt"
fi

cat > "$out/README.md" <<'MD'
# Example data (fetched by scripts/fetch_data.sh; not part of tapegrad's MIT sources)

| file | source | licence |
| --- | --- | --- |
| diabetes.csv | Debian `weka` 3.6.14: examples/diabetes.arff (Pima Indians Diabetes, UCI/NIDDK), converted to CSV | package GPL-2+; the data: UCI (Kaggle lists CC0) |
| digits.csv | Debian `python3-sklearn` 1.2.1: datasets/data/digits.csv.gz (UCI optical digits) | BSD-3-Clause |
| diabetes_reg.csv | Debian `python3-sklearn` 1.2.1: datasets/data/diabetes_data_raw.csv.gz + diabetes_target.csv.gz | BSD-3-Clause |
| fashion-mnist/ | Debian `dataset-fashion-mnist` (Zalando Research) | MIT |
| fortunes.txt | Debian `fortunes` 1:1.99.1-7.3: 26 files of usr/share/games/fortunes (computers, cookie, definitions, education, food, humorists, kids, law, linux, love, magic, medicine, miscellaneous, news, paradoxum, people, pets, platitudes, science, songs-poems, sports, startrek, tao, wisdom, work, zippy) concatenated in that order, unchanged (about 1.9 MB) | package: BSD (fortune-mod; /usr/share/doc/fortunes/copyright, University of California); the quotations are collected from many sources (the "cookie" file is Karl Lehenbauer's alt.sources postings) and keep their authors' rights: use them to train locally, do not redistribute them with tapegrad |
MD
echo "data in $out"
